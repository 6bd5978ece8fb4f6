#include "core/Result.hpp"

namespace fetchml {

const char* errorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::NotFound:
            return "NotFound";
        case ErrorCode::Unauthenticated:
            return "Unauthenticated";
        case ErrorCode::PermissionDenied:
            return "PermissionDenied";
        case ErrorCode::InvalidArgument:
            return "InvalidArgument";
        case ErrorCode::Busy:
            return "Busy";
        case ErrorCode::Internal:
            return "Internal";
    }
    return "Internal";
}

std::string dbusErrorName(ErrorCode code) {
    return std::string("org.fetchml.Error.") + errorCodeName(code);
}

ErrorCode errorCodeFromDbusName(const std::string& name) {
    for (auto c : {ErrorCode::NotFound, ErrorCode::Unauthenticated, ErrorCode::PermissionDenied,
                   ErrorCode::InvalidArgument, ErrorCode::Busy, ErrorCode::Internal}) {
        if (name == dbusErrorName(c)) {
            return c;
        }
    }
    return ErrorCode::Internal;
}

int httpStatus(ErrorCode code) {
    switch (code) {
        case ErrorCode::NotFound:
            return 404;
        case ErrorCode::Unauthenticated:
            return 401;
        case ErrorCode::PermissionDenied:
            return 403;
        case ErrorCode::InvalidArgument:
            return 400;
        case ErrorCode::Busy:
            return 503;
        case ErrorCode::Internal:
            return 500;
    }
    return 500;
}

}  // namespace fetchml
