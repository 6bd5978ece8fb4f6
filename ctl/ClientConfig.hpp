#pragma once
// Client settings of fetchmlctl: which server, its pinned certificate and the API key.
// Sources, later wins: the client config file < environment < command-line flags. The API key
// never comes from argv (other users can read a process's arguments in /proc).

#include <optional>
#include <string>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// What fetchmlctl connects to and how it authenticates.
struct ClientConfig {
    std::string server;       ///< "https://host[:port]"; "" = the local system bus
    std::string fingerprint;  ///< pinned server certificate SHA-256 (any accepted spelling)
    std::string apiKey;       ///< "fml_..." or ""
    std::string sourceFile;   ///< the config file read ("" if none)
};

/// Path of the client config: $XDG_CONFIG_HOME/fetchml/client.yaml, else
/// $HOME/.config/fetchml/client.yaml ("" when neither variable is set).
std::string defaultClientConfigPath();

/// Reads the config file at path (a YAML mapping with optional string keys server,
/// fingerprint, api_key). A missing file gives an empty config. Errors (InvalidArgument): a
/// syntax error, an unknown key, a non-string value, or an api_key in a file whose mode lets
/// the group or others read or write it ("... must be mode 0600").
Result<ClientConfig> readClientConfigFile(const std::string& path);

/// Writes config (server, fingerprint, api_key when not empty) to path atomically: a 0600
/// temporary file in the same directory, fsync, rename, fsync of the directory (created 0700
/// when missing). Values are written as double-quoted YAML scalars (JSON string syntax, which
/// YAML 1.2 §7.3.1 accepts). Errors: Internal "cannot write <path>: <why>".
Result<void> writeClientConfigFile(const std::string& path, const ClientConfig& config);

/// The effective config: the file at path ("" = default path), then FETCHML_SERVER,
/// FETCHML_FINGERPRINT, FETCHML_API_KEY (set but empty also overrides), then the flags given.
/// Errors: as readClientConfigFile.
Result<ClientConfig> loadClientConfig(const std::string& path,
                                      const std::optional<std::string>& serverFlag,
                                      const std::optional<std::string>& fingerprintFlag);

}  // namespace fetchml::ctl
