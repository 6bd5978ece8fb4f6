#pragma once
// CtlContext: what every fetchmlctl command shares: the global options, the outcome of the
// command that ran, and the transport, created on first use (D-Bus or HTTPS).

#include <memory>
#include <optional>
#include <string>

#include "ClientConfig.hpp"
#include "ExitCode.hpp"
#include "Transport.hpp"

namespace fetchml::ctl {

/// Options given before or after the command name.
struct GlobalOptions {
    std::optional<std::string> server;       ///< --server https://host:port
    std::optional<std::string> fingerprint;  ///< --fingerprint
    std::string configPath;                  ///< --config ("" = default client.yaml)
    bool insecure = false;                   ///< --insecure: no certificate pin
};

/// A command's outcome: nullopt on success.
using Outcome = std::optional<CtlFailure>;

/// Makes the transport to the HTTPS server of config (its server URL, pinned fingerprint and
/// API key; insecure: --insecure). Returns nullptr and sets failure (usage, exit 1) when the
/// URL is bad or the pin or the key is missing. makeHttpsTransport (HttpsTransport.hpp).
using HttpsTransportFactory = std::unique_ptr<Transport> (*)(const ClientConfig& config,
                                                             bool insecure, Outcome& failure);

/// Shared state of one fetchmlctl run.
class CtlContext {
public:
    GlobalOptions options;  ///< filled by CLI11 before any command runs
    Outcome outcome;        ///< set by the command that ran
    /// Makes the HTTPS transport; nullptr in a binary without it (CtlEdition).
    HttpsTransportFactory https = nullptr;

    /// The transport: HTTPS when a server is configured (flag, FETCHML_SERVER or client.yaml),
    /// else the system bus. Created once. Returns nullptr and sets failure on error: usage
    /// (exit 1) for config problems, a missing pin and a binary without HTTPS, connection
    /// (exit 4) when the bus cannot be reached.
    Transport* transport(Outcome& failure);

    /// True when the client config (read once, after the options are parsed) names an HTTPS
    /// server. False when it names none or cannot be read (transport() reports that).
    bool wantsHttps();

private:
    std::unique_ptr<Transport> makeTransport(Outcome& failure);
    /// The client config of the options, read on first use.
    const Result<ClientConfig>& config();

    std::unique_ptr<Transport> transport_;
    std::optional<Result<ClientConfig>> config_;
};

}  // namespace fetchml::ctl
