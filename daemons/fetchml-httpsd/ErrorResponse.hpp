#pragma once
// ErrorResponse: how every failure becomes an HTTP answer. The body is always the JSON of
// docs/architecture/decisions.md ("HTTPS API"): {"error":{"code":"NotFound","message":"..."}},
// the status that of the code (core/Result.hpp httpStatus) unless the HTTP layer knows better
// (405, 413, 431).

#include <string>

#include "core/Result.hpp"

namespace fetchml::edge {

/// A ready-to-send error: status and JSON body.
struct ErrorResponse {
    unsigned status = 500;
    std::string body;  ///< {"error":{"code":s,"message":s}}, UTF-8 JSON

    /// The response for `error` with the status of its code (400, 401, 403, 404, 503, 500).
    static ErrorResponse from(const Error& error);
    /// The response for `error` with an explicit status (e.g. 413 for a too large body).
    static ErrorResponse from(unsigned status, const Error& error);
    /// Just the JSON body for a code and message. Invalid UTF-8 in the message is replaced
    /// (nlohmann::json dump with error_handler replace), so the body is always valid JSON.
    static std::string json(ErrorCode code, const std::string& message);
};

}  // namespace fetchml::edge
