#pragma once
// ApiHandler: what each route of the HTTPS table does, as calls to fetchmld over D-Bus
// (docs/architecture/decisions.md, "HTTPS API" and "D-Bus interface"). Runs on a D-Bus pool
// thread; knows nothing of sockets or Beast. JSON bodies map one to one onto a{sv} requests
// (common/proto/VariantJson), and every request carries the client's key as "api_key":
// fetchmld alone verifies keys.

#include <cstdint>
#include <optional>
#include <string>

#include "Router.hpp"
#include "SchedulerProxy.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::edge {

/// One authenticated request, read completely.
struct ApiRequest {
    RouteMatch match;
    std::string apiKey;      ///< from "Authorization: Bearer <key>"; never logged
    std::string remoteAddr;  ///< the client's IP address, passed on for fetchmld's audit log
    /// Ask fetchmld (Hello) for the key's role rate limit first; HttpServer sets it when the
    /// RateLimiter does not know the key's limit yet.
    bool learnRateLimit = false;
    std::string body;  ///< the JSON body of the other routes ("" = none)
    UniqueFd upload;   ///< POST /v1/blobs: the spooled body, at offset 0
};

/// The answer.
struct ApiResponse {
    unsigned status = 200;
    std::string contentType = "application/json";
    std::string body;  ///< used unless `file` is valid
    UniqueFd file;     ///< GET /v1/blobs/<sha>: the blob, sent from offset 0
    std::uint64_t fileSize = 0;
    std::string failure;  ///< for 5xx: the message, for the error log line
    /// With learnRateLimit: the role's requests a minute (0 = default) for the RateLimiter.
    std::optional<std::uint32_t> rateLimitPerMinute;

    /// The error answer (status of its code, JSON error body).
    static ApiResponse fromError(const Error& error);
};

/// Route handlers.
class ApiHandler {
public:
    /// Performs the request with `proxy`. Never throws: every failure is an error response.
    static ApiResponse handle(ApiRequest& request, SchedulerProxy& proxy);
    /// GET /health: {"status":"ok"}; no D-Bus call, so it answers even when the pool is busy.
    static ApiResponse health();

private:
    /// The route's work alone.
    static ApiResponse route(ApiRequest& request, SchedulerProxy& proxy);
};

}  // namespace fetchml::edge
