#pragma once
// OpensslError: turns OpenSSL's thread-local error queue (ERR_get_error(3)) into an Error.

#include <string>

#include "core/Result.hpp"

namespace fetchml {

/// An Error of kind code with message "<what>: <OpenSSL's reason for the oldest queued
/// error>" ("unknown error" when the queue is empty). Clears the queue.
Error opensslError(ErrorCode code, const std::string& what);

}  // namespace fetchml
