#pragma once
// HttpsClient: a synchronous HTTP/1.1 client over TLS 1.2+ (Boost.Beast) for fetchmlctl and the
// tests. The server is authenticated by pinning the SHA-256 fingerprint of its leaf certificate
// (no CA check when pinned; fetchml-httpsd generates a self-signed certificate). One keep-alive
// connection is reused across requests and re-opened when the server closed it.
// Beast stays inside HttpsClient.cpp (pimpl), so users of this header do not compile it.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml {

/// Canonical form of a certificate fingerprint: 64 lowercase hex digits. Accepts the hex in
/// either case with or without ':' separators, optionally prefixed "sha256:" or in OpenSSL's
/// output form "sha256 Fingerprint=AB:CD:..." (`openssl x509 -noout -fingerprint -sha256`).
/// Errors: InvalidArgument "certificate fingerprint '<text>' is not a SHA-256 fingerprint (64
/// hex digits, colons optional)".
Result<std::string> normaliseFingerprint(std::string_view text);

/// HTTP methods the client sends.
enum class HttpMethod { Get, Post, Put, Delete };

/// Where and how to connect.
struct HttpsClientOptions {
    std::string host;           ///< host name or IP address (IPv6 without brackets)
    std::uint16_t port = 9101;  ///< TCP port
    std::string fingerprint;    ///< pinned leaf certificate SHA-256, any normaliseFingerprint form
    bool insecure = false;      ///< no pin: accept any certificate (tests, first contact)
    std::uint32_t timeoutMs = 60000;  ///< per network operation (connect, handshake, read), ms
};

/// A response with a fully read body.
struct HttpsResponse {
    unsigned status = 0;      ///< HTTP status code
    std::string contentType;  ///< Content-Type header ("" if none)
    std::string body;         ///< the body bytes
};

/// Parts of an "https://host[:port]" URL.
struct HttpsUrl {
    std::string host;           ///< without brackets for IPv6 literals
    std::uint16_t port = 9101;  ///< 9101 (FetchML's port) when the URL names none
};

/// Parses "https://host[:port][/]" (also "[v6addr]:port"). Errors: InvalidArgument for another
/// scheme, a path, or a bad port.
Result<HttpsUrl> parseHttpsUrl(std::string_view url);

/// Synchronous HTTPS client with certificate pinning and keep-alive. Not thread-safe.
///
/// Errors of every request: Internal "cannot connect to host:port: <why>" (resolve, connect,
/// TLS handshake, timeouts), Internal "the certificate of host:port has changed: its
/// fingerprint is <got> but <want> is pinned. ...", Internal "host:port: <why>" for a broken
/// connection. A response with status
/// >= 400 and a JSON body {"error":{"code","message"}} becomes an Error with that code (by name,
/// see errorCodeName) and message; other failed statuses become the code of the status
/// (404 NotFound, 401 Unauthenticated, 403 PermissionDenied, 400/409/413/422 InvalidArgument,
/// 429/503 Busy, else Internal) with "HTTP <status> from host:port".
class HttpsClient {
public:
    /// Receives the body's bytes in order; an error aborts the upload.
    using Sink = std::function<Result<void>(std::string_view bytes)>;
    /// Produces the body of an upload by calling the sink; returns its own or the sink's error.
    using BodyWriter = std::function<Result<void>(const Sink& sink)>;

    /// Validates the options (InvalidArgument for a malformed fingerprint, or "no server
    /// certificate fingerprint is pinned" when there is neither a pin nor insecure) and sets up
    /// the TLS context (TLS 1.2 minimum). Does not connect yet.
    static Result<std::unique_ptr<HttpsClient>> create(const HttpsClientOptions& options);
    ~HttpsClient();
    HttpsClient(const HttpsClient&) = delete;
    HttpsClient& operator=(const HttpsClient&) = delete;

    /// Sends "Authorization: Bearer <token>" with every later request ("" = none). The token is
    /// never logged.
    void setBearerToken(std::string token);

    /// One request with an in-memory body ("" and contentType "" for none). Any status is
    /// returned as a response; only transport failures are errors.
    Result<HttpsResponse> request(HttpMethod method, const std::string& target,
                                  const std::string& body = "",
                                  const std::string& contentType = "");

    /// JSON request: body (if not null) is sent as application/json; a 2xx answer is parsed as
    /// JSON (an empty body gives null). Failed statuses become errors as described above;
    /// a 2xx body that is not JSON is Internal.
    Result<nlohmann::json> requestJson(HttpMethod method, const std::string& target,
                                       const nlohmann::json& body = nullptr);

    /// POSTs a streamed body of exactly contentLength bytes produced by writer (e.g. a blob pack)
    /// and parses a JSON answer as requestJson does. Errors also: InvalidArgument when the writer
    /// produced a different number of bytes than contentLength (the connection is dropped).
    Result<nlohmann::json> uploadJson(const std::string& target, std::uint64_t contentLength,
                                      const std::string& contentType, const BodyWriter& writer);

    /// GETs target and streams a 2xx body into fd with write(2), without holding it in
    /// memory. Returns the number of bytes written. Failed statuses become errors as above;
    /// Internal "writing download: <strerror>" for a failed write.
    Result<std::uint64_t> download(const std::string& target, int fd);

    /// The SHA-256 fingerprint (64 lowercase hex digits) of the server's leaf certificate, as
    /// seen by this client's last handshake; connects (GET /health) if it has not yet. For
    /// trust on first use: create the client with insecure, show this, then pin it.
    /// Errors: as request.
    Result<std::string> peerFingerprint();

    /// "host:port" as used in messages.
    std::string endpoint() const;

private:
    struct Impl;
    explicit HttpsClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Turns a failed HTTP answer into an Error as HttpsClient documents (exposed for tests).
/// endpoint is "host:port" for the fallback message.
Error httpError(unsigned status, std::string_view body, const std::string& endpoint);

}  // namespace fetchml
