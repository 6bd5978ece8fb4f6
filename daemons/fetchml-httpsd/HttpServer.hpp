#pragma once
// HttpServer: HTTP/1.1 over TLS with Boost.Beast on one Asio io_context. Keep-alive and
// resource limits (HttpServerOptions): a header size cap (431), a body cap (https.max_body_bytes
// for POST /v1/blobs, which is streamed to an UploadSpool file; https.max_json_bytes for JSON
// bodies, which are held in memory; 413 either way, refused from Content-Length before any of
// the body is read, or as soon as a chunked body passes the cap), caps on concurrent
// connections in total and per client address (ConnectionLimiter; a connection over a cap is
// closed right after accept, before TLS), and deadlines: the TLS handshake must finish within
// the read timeout; a kept-alive connection may wait the idle timeout for the first byte of
// its next request, and from that byte the whole request line and headers must arrive within
// the header timeout (a total deadline, so a client trickling a byte every few seconds is
// closed: slowloris); each read of the body and each write has the read timeout. A timed-out
// connection is closed without an answer. Authenticated routes need "Authorization: Bearer <key>"
// (missing: 401 without a D-Bus call); the work itself runs on the SchedulerClient pool. Every
// error is a JSON response (ErrorResponse). A peer outside the allowlist is closed right after
// accept, before the TLS handshake (logged at warning on "edge.http"); every request but /health
// passes the RateLimiter (429 with Retry-After when over), and every 401 answer counts against the
// address's authentication-failure budget. One access line per request at info on logger
// "edge.access":
//   <remote> "<METHOD> <redacted target>" <status> <bytes> <ms>ms
// Beast lives only in HttpServer.cpp; this header is free of it.

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ConnectionLimiter.hpp"
#include "IpAllowlist.hpp"
#include "RateLimiter.hpp"
#include "SchedulerClient.hpp"
#include "core/Result.hpp"

namespace boost::asio {
class io_context;
}

namespace fetchml::edge {

class ServerState;
class EventHub;

/// Limits and addresses of the server.
struct HttpServerOptions {
    std::string address = "0.0.0.0";           ///< listen address (https.address)
    std::uint16_t port = 9101;                 ///< 0 = any free port (https.port)
    std::uint64_t maxBodyBytes = 1ull << 30;   ///< upload cap, bytes (https.max_body_bytes)
    std::uint64_t maxJsonBytes = 16ull << 20;  ///< JSON body cap, bytes (https.max_json_bytes)
    std::uint32_t maxHeaderBytes = 16384;      ///< request line + headers, bytes (max_header_bytes)
    std::string spoolDir;  ///< where uploads are spooled (UploadSpool::directory)
    /// Total for the TLS handshake; each body read and each write (https.read_timeout_s).
    std::chrono::seconds readTimeout{30};
    /// Waiting for the first byte of a request on an open connection (https.idle_timeout_s).
    std::chrono::seconds idleTimeout{60};
    /// Total for a request line and headers, from their first byte (https.header_timeout_s).
    std::chrono::seconds headerTimeout{10};
    /// https.max_connections, https.max_connections_per_address.
    ConnectionLimits connections;
    /// Peers allowed to connect (https.allowlist); others are closed before TLS. Default:
    /// loopback only.
    IpAllowlist allowlist = IpAllowlist::parse({"127.0.0.0/8", "::1/128"}).value();
    RateLimits limits;  ///< https.rate_limit_per_minute, https.auth_failures_per_minute
    /// Where GET /v1/events connections subscribe (borrowed; nullptr = 503 for that route).
    EventHub* events = nullptr;
    std::uint64_t wsMaxMessageBytes = 4096;  ///< WebSocket message cap, bytes (https.ws_...)
};

/// The listening server.
class HttpServer {
public:
    /// Borrows `io`, `tls` (SSL_CTX, kept alive by the caller) and `scheduler`.
    HttpServer(boost::asio::io_context& io, SSL_CTX* tls, SchedulerClient& scheduler,
               HttpServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    /// Binds and listens. Returns the bound port (the chosen one when options.port is 0).
    /// Errors: Internal with the address and the system error.
    Result<std::uint16_t> listen();

    /// Starts accepting connections on the io_context.
    void start();

    /// Graceful stop: closes the listener, closes idle connections, lets requests in flight
    /// finish (their connections close after the answer), then calls `drained` on the loop.
    void shutdown(std::function<void()> drained);

private:
    std::shared_ptr<ServerState> impl_;  // shared with the connections' coroutines
};

}  // namespace fetchml::edge
