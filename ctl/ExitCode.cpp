#include "ExitCode.hpp"

namespace fetchml::ctl {

ExitCode exitCodeFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument:
        case ErrorCode::NotFound:
            return ExitCode::Invalid;
        case ErrorCode::Unauthenticated:
        case ErrorCode::PermissionDenied:
            return ExitCode::Auth;
        case ErrorCode::Busy:
        case ErrorCode::Internal:
            return ExitCode::Connection;
    }
    return ExitCode::Connection;
}

std::string exitCodeFooter() {
    return "Exit codes:\n"
           "  0  success\n"
           "  1  usage error (bad arguments, config file, local files)\n"
           "  2  the server refused the request as invalid, or the job/blob was not found\n"
           "  3  authentication failed or permission denied\n"
           "  4  connection, TLS or certificate-fingerprint failure, or a server failure\n"
           "  5  the job failed (commands that wait for a job)\n";
}

CtlFailure failureFrom(const Error& error) {
    return CtlFailure{exitCodeFor(error.code), error.message};
}

CtlFailure usageFailure(std::string message) {
    return CtlFailure{ExitCode::Usage, std::move(message)};
}

}  // namespace fetchml::ctl
