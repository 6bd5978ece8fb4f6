#pragma once
// Exit codes of fetchmlctl (documented in `fetchmlctl --help` and docs/cli.md) and the
// mapping from error kinds to them.

#include <string>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// fetchmlctl's exit codes.
enum class ExitCode : int {
    Ok = 0,          ///< success
    Usage = 1,       ///< bad arguments, bad local input (config file, directory), local failure
    Invalid = 2,     ///< the server said the request is invalid or names something unknown
    Auth = 3,        ///< authentication failed or permission denied
    Connection = 4,  ///< cannot reach the server, TLS or fingerprint failure, server failure
    JobFailed = 5,   ///< the job waited for failed (reserved for a future `wait` command)
};

/// Exit code for an error kind: InvalidArgument/NotFound 2, Unauthenticated/PermissionDenied 3,
/// Busy/Internal 4 (transports report connection and TLS failures as Internal).
ExitCode exitCodeFor(ErrorCode code);

/// The exit-code table printed as the footer of `fetchmlctl --help`.
std::string exitCodeFooter();

/// A failure that ends the command: an exit code and the one-line message printed as
/// "fetchmlctl: <message>" on stderr.
struct CtlFailure {
    ExitCode exit = ExitCode::Usage;
    std::string message;
};

/// The failure for a transport or server error (exit code by exitCodeFor).
CtlFailure failureFrom(const Error& error);

/// A local usage failure (exit code 1).
CtlFailure usageFailure(std::string message);

}  // namespace fetchml::ctl
