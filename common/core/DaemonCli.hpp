#pragma once
// DaemonCli: the command-line flags every FetchML daemon shares (CLI11), turned into the
// LoadOptions of loadSettings (common/core/Config.hpp).
//
//   --config PATH        the YAML file (default /etc/fetchml/fetchml.yaml; env FETCHML_CONFIG)
//   --set section.key=value   repeatable; beats the file and the environment
//   --check-config       load and validate, print "configuration OK: <file>" or the error,
//                        exit 0 or 1 (used as ExecStartPre=)
//   --version            print "<program> <version>" and exit 0
//
// Usage in a daemon's run function:
//   CLI::App app{"FetchML scheduler"};
//   DaemonCli cli(app, "fetchmld");
//   CLI11_PARSE(app, argc, argv);
//   if (auto code = cli.handleInfoFlags(std::cout, std::cerr)) { return *code; }
//   auto settings = loadSettings(cli.loadOptions());

#include <CLI/CLI.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/Config.hpp"

namespace fetchml {

/// Shared daemon flags. Registers its options on `app` in the constructor; CLI11 keeps
/// pointers into this object, so it must outlive parsing and is neither copied nor moved.
class DaemonCli {
public:
    /// Adds --config, --set, --check-config and --version to `app`. `program` is the name
    /// printed by --version (e.g. "fetchmld").
    DaemonCli(CLI::App& app, std::string program);
    DaemonCli(const DaemonCli&) = delete;
    DaemonCli& operator=(const DaemonCli&) = delete;

    /// Adds an override "section.key=value" (for a daemon's own flags, e.g. --port 0 becomes
    /// "https.port=0"). Call after parsing; these come after the --set values, so they win.
    void addOverride(std::string override);

    /// The options for loadSettings after parsing. mustExist is true when the path was given
    /// explicitly (--config or FETCHML_CONFIG): a typo in a path should not silently mean
    /// "all defaults".
    LoadOptions loadOptions() const;

    /// Handles --version and --check-config after parsing: prints to `out` (or the error to
    /// `err`) and returns the exit code (0 or 1); std::nullopt when the daemon should run.
    std::optional<int> handleInfoFlags(std::ostream& out, std::ostream& err) const;

    /// True when --check-config was given.
    bool checkConfig() const { return checkConfig_; }

private:
    std::string program_;
    std::string path_ = kDefaultConfigPath;
    std::vector<std::string> overrides_;
    std::vector<std::string> extraOverrides_;
    bool checkConfig_ = false;
    bool version_ = false;
    CLI::Option* configOption_ = nullptr;
};

}  // namespace fetchml
