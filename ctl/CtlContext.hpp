#pragma once
// CtlContext: what every fetchmlctl command shares: the global options, the outcome of the
// command that ran, and the transport, created on first use (D-Bus or HTTPS).

#include <memory>
#include <optional>
#include <string>

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

/// Shared state of one fetchmlctl run.
class CtlContext {
public:
    GlobalOptions options;  ///< filled by CLI11 before any command runs
    Outcome outcome;        ///< set by the command that ran

    /// The transport: HTTPS when a server is configured (flag, FETCHML_SERVER or client.yaml),
    /// else the system bus. Created once. Returns nullptr and sets failure on error: usage
    /// (exit 1) for config problems and a missing pin, connection (exit 4) when the bus
    /// cannot be reached.
    Transport* transport(Outcome& failure);

private:
    std::unique_ptr<Transport> makeTransport(Outcome& failure);

    std::unique_ptr<Transport> transport_;
};

}  // namespace fetchml::ctl
