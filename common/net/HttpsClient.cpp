// HttpsClient: synchronous Beast client with certificate pinning. Every network operation is
// started asynchronously and the io_context is run until it completes, so that Beast's
// tcp_stream expiry gives each step a timeout (plain synchronous Asio calls cannot time out).

#include "net/HttpsClient.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>

namespace fetchml {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr std::size_t kMaxJsonBody = 256u << 20;  // manifests of huge trees, bytes
constexpr std::size_t kMaxErrorBody = 64u << 10;  // error bodies kept for the message, bytes
constexpr std::size_t kDownloadChunk = 256u << 10;

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) !=
            std::tolower(static_cast<unsigned char>(prefix[i]))) {
            return false;
        }
    }
    return true;
}

http::verb toVerb(HttpMethod method) {
    switch (method) {
        case HttpMethod::Get:
            return http::verb::get;
        case HttpMethod::Post:
            return http::verb::post;
        case HttpMethod::Put:
            return http::verb::put;
        case HttpMethod::Delete:
            return http::verb::delete_;
    }
    return http::verb::get;
}

ErrorCode codeForStatus(unsigned status) {
    switch (status) {
        case 400:
        case 409:
        case 413:
        case 422:
            return ErrorCode::InvalidArgument;
        case 401:
            return ErrorCode::Unauthenticated;
        case 403:
            return ErrorCode::PermissionDenied;
        case 404:
            return ErrorCode::NotFound;
        case 429:
        case 503:
            return ErrorCode::Busy;
        default:
            return ErrorCode::Internal;
    }
}

bool isIpLiteral(const std::string& host) {
    beast::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

/// Text of an OpenSSL-category error, with the library's reason where it has one.
std::string describe(const beast::error_code& ec) {
    if (ec == asio::error::operation_aborted || ec == beast::error::timeout) {
        return "timed out";
    }
    return ec.message();
}

}  // namespace

Result<std::string> normaliseFingerprint(std::string_view text) {
    std::string_view rest = text;
    if (auto eq = rest.find('=');
        eq != std::string_view::npos && startsWithNoCase(rest, "sha256 fingerprint=")) {
        rest.remove_prefix(eq + 1);
    } else if (startsWithNoCase(rest, "sha256:")) {
        rest.remove_prefix(7);
    }
    std::string hex;
    bool ok = true;
    for (char c : rest) {
        if (c == ':') {
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(c))) {
            ok = false;
            break;
        }
        hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (!ok || hex.size() != 64) {
        return makeError(ErrorCode::InvalidArgument,
                         "certificate fingerprint '" + std::string(text) +
                             "' is not a SHA-256 fingerprint (64 hex digits, colons optional)");
    }
    return hex;
}

Result<HttpsUrl> parseHttpsUrl(std::string_view url) {
    auto bad = [&](const std::string& why) {
        return makeError(ErrorCode::InvalidArgument,
                         "server URL '" + std::string(url) + "': " + why);
    };
    if (!startsWithNoCase(url, "https://")) {
        return bad("expected https://host[:port]");
    }
    std::string_view rest = url.substr(8);
    if (!rest.empty() && rest.back() == '/') {
        rest.remove_suffix(1);
    }
    if (rest.find('/') != std::string_view::npos) {
        return bad("a path is not allowed; routes are fixed under /v1");
    }
    HttpsUrl out;
    std::string_view portText;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return bad("unterminated '[' in IPv6 address");
        }
        out.host = std::string(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        if (!rest.empty() && rest.front() != ':') {
            return bad("unexpected text after ']'");
        }
        portText = rest.empty() ? std::string_view{} : rest.substr(1);
    } else {
        auto colon = rest.rfind(':');
        out.host = std::string(rest.substr(0, colon));
        portText = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    }
    if (out.host.empty()) {
        return bad("no host");
    }
    if (!portText.empty() || rest.find(':') != std::string_view::npos) {
        unsigned long port = 0;
        if (portText.empty() || portText.size() > 5) {
            return bad("bad port");
        }
        for (char c : portText) {
            if (!std::isdigit(static_cast<unsigned char>(c))) {
                return bad("bad port");
            }
            port = port * 10 + static_cast<unsigned long>(c - '0');
        }
        if (port == 0 || port > 65535) {
            return bad("port out of range");
        }
        out.port = static_cast<std::uint16_t>(port);
    }
    return out;
}

Error httpError(unsigned status, std::string_view body, const std::string& endpoint) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (!json.is_discarded() && json.is_object() && json.contains("error") &&
        json["error"].is_object()) {
        const auto& err = json["error"];
        ErrorCode code = codeForStatus(status);
        if (err.contains("code") && err["code"].is_string()) {
            std::string name = err["code"].get<std::string>();
            ErrorCode byName = errorCodeFromDbusName("org.fetchml.Error." + name);
            if (byName != ErrorCode::Internal || name == "Internal") {
                code = byName;
            }
        }
        if (err.contains("message") && err["message"].is_string()) {
            return makeError(code, err["message"].get<std::string>());
        }
        return makeError(code, "HTTP " + std::to_string(status) + " from " + endpoint);
    }
    return makeError(codeForStatus(status), "HTTP " + std::to_string(status) + " from " + endpoint);
}

struct HttpsClient::Impl {
    HttpsClientOptions options;
    std::string pin;              // normalised, "" = insecure
    std::string peerFingerprint;  // of the last handshake, 64 lowercase hex digits
    std::string bearer;
    asio::io_context ioc;
    ssl::context sslCtx{ssl::context::tls_client};
    std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;

    std::string endpoint() const {
        bool v6 = options.host.find(':') != std::string::npos;
        return (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
    }

    /// Runs one asynchronous operation to completion under the per-operation timeout.
    template <typename Start>
    beast::error_code run(Start&& start) {
        beast::error_code result = asio::error::would_block;
        if (stream) {
            beast::get_lowest_layer(*stream).expires_after(
                std::chrono::milliseconds(options.timeoutMs));
        }
        start([&result](beast::error_code ec, auto&&...) { result = ec; });
        ioc.restart();
        ioc.run();
        return result;
    }

    Error fail(const std::string& what, const beast::error_code& ec) {
        stream.reset();
        return makeError(ErrorCode::Internal, endpoint() + ": " + what + ": " + describe(ec));
    }

    /// True when the kept connection can carry another request: nothing readable on it (a
    /// readable idle socket means the server closed it or sent something unasked).
    bool reusable() {
        if (!stream) {
            return false;
        }
        pollfd pfd{};
        pfd.fd = beast::get_lowest_layer(*stream).socket().native_handle();
        pfd.events = POLLIN;
        return ::poll(&pfd, 1, 0) == 0 && buffer.size() == 0;
    }

    Result<void> connect();
    Result<void> checkPin();
    Result<void> ensureConnected() {
        if (reusable()) {
            return {};
        }
        stream.reset();
        return connect();
    }
    void setCommonHeaders(http::request_header<>& header, const std::string& target) {
        header.target(target);
        header.version(11);
        header.set(http::field::host, options.host);
        header.set(http::field::user_agent, "fetchmlctl");
        if (!bearer.empty()) {
            header.set(http::field::authorization, "Bearer " + bearer);
        }
    }
    Result<HttpsResponse> readResponse();
};

Result<void> HttpsClient::Impl::connect() {
    buffer.clear();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) {
        return makeError(ErrorCode::Internal,
                         "cannot connect to " + endpoint() + ": " + describe(ec));
    }
    stream.emplace(ioc, sslCtx);
    if (!isIpLiteral(options.host)) {
        SSL_set_tlsext_host_name(stream->native_handle(), options.host.c_str());
    }
    ec = run(
        [&](auto handler) { beast::get_lowest_layer(*stream).async_connect(results, handler); });
    if (ec) {
        stream.reset();
        return makeError(ErrorCode::Internal,
                         "cannot connect to " + endpoint() + ": " + describe(ec));
    }
    ec = run([&](auto handler) { stream->async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
        stream.reset();
        return makeError(ErrorCode::Internal, "cannot connect to " + endpoint() +
                                                  ": TLS handshake failed: " + describe(ec));
    }
    return checkPin();
}

Result<void> HttpsClient::Impl::checkPin() {
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        SSL_get1_peer_certificate(stream->native_handle()), &X509_free);
    if (!cert) {
        stream.reset();
        return makeError(ErrorCode::Internal,
                         "cannot connect to " + endpoint() + ": the server sent no certificate");
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert.get(), EVP_sha256(), digest, &length) != 1) {
        stream.reset();
        return makeError(ErrorCode::Internal, "cannot hash the server certificate");
    }
    static const char* kHex = "0123456789abcdef";
    std::string got;
    for (unsigned int i = 0; i < length; ++i) {
        got.push_back(kHex[digest[i] >> 4]);
        got.push_back(kHex[digest[i] & 0xf]);
    }
    peerFingerprint = got;
    if (!pin.empty() && got != pin) {
        stream.reset();
        return makeError(
            ErrorCode::Internal,
            "the certificate of " + endpoint() + " has changed: its fingerprint is " + got +
                " but " + pin +
                " is pinned. If it was replaced on purpose, compare the new "
                "fingerprint with the server's (/var/lib/fetchml-https/tls/fingerprint "
                "there) and log in again (fetchmlctl login URL --fingerprint NEW); "
                "otherwise someone may be intercepting the connection");
    }
    return {};
}

Result<HttpsResponse> HttpsClient::Impl::readResponse() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxJsonBody);
    auto ec = run([&](auto handler) { http::async_read(*stream, buffer, parser, handler); });
    if (ec) {
        return fail("reading the response", ec);
    }
    auto& res = parser.get();
    HttpsResponse out;
    out.status = res.result_int();
    out.contentType = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) {
        stream.reset();
    }
    return out;
}

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsClient::~HttpsClient() {
    if (impl_->stream) {
        // Best effort close_notify so the server sees a clean end, bounded by a short timeout.
        impl_->options.timeoutMs = 1000;
        (void)impl_->run([&](auto handler) { impl_->stream->async_shutdown(handler); });
    }
}

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(const HttpsClientOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    if (!options.fingerprint.empty()) {
        auto pin = normaliseFingerprint(options.fingerprint);
        if (!pin) {
            return pin.error();
        }
        impl->pin = *pin;
    } else if (!options.insecure) {
        return makeError(ErrorCode::InvalidArgument,
                         "no server certificate fingerprint is pinned for " + impl->endpoint());
    }
    if (options.host.empty()) {
        return makeError(ErrorCode::InvalidArgument, "no server host given");
    }
    SSL_CTX_set_min_proto_version(impl->sslCtx.native_handle(), TLS1_2_VERSION);
    // The pin replaces CA validation: a home server's certificate is self-signed.
    impl->sslCtx.set_verify_mode(ssl::verify_none);
    return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

void HttpsClient::setBearerToken(std::string token) {
    impl_->bearer = std::move(token);
}

Result<std::string> HttpsClient::peerFingerprint() {
    if (impl_->peerFingerprint.empty()) {
        auto health = request(HttpMethod::Get, "/health");
        if (!health) {
            return health.error();
        }
    }
    return impl_->peerFingerprint;
}

std::string HttpsClient::endpoint() const {
    return impl_->endpoint();
}

Result<HttpsResponse> HttpsClient::request(HttpMethod method, const std::string& target,
                                           const std::string& body,
                                           const std::string& contentType) {
    if (auto c = impl_->ensureConnected(); !c) {
        return c.error();
    }
    http::request<http::string_body> req;
    req.method(toVerb(method));
    impl_->setCommonHeaders(req, target);
    if (!contentType.empty()) {
        req.set(http::field::content_type, contentType);
    }
    req.body() = body;
    req.prepare_payload();
    auto ec = impl_->run([&](auto handler) { http::async_write(*impl_->stream, req, handler); });
    if (ec) {
        return impl_->fail("sending " + target, ec);
    }
    return impl_->readResponse();
}

Result<nlohmann::json> HttpsClient::requestJson(HttpMethod method, const std::string& target,
                                                const nlohmann::json& body) {
    auto res = body.is_null() ? request(method, target)
                              : request(method, target, body.dump(), "application/json");
    if (!res) {
        return res.error();
    }
    if (res->status >= 300) {
        return httpError(res->status, res->body, endpoint());
    }
    if (res->body.empty()) {
        return nlohmann::json();
    }
    auto json = nlohmann::json::parse(res->body, nullptr, false);
    if (json.is_discarded()) {
        return makeError(ErrorCode::Internal,
                         "the answer to " + target + " from " + endpoint() + " is not JSON");
    }
    return json;
}

Result<nlohmann::json> HttpsClient::uploadJson(const std::string& target,
                                               std::uint64_t contentLength,
                                               const std::string& contentType,
                                               const BodyWriter& writer) {
    if (auto c = impl_->ensureConnected(); !c) {
        return c.error();
    }
    http::request<http::empty_body> req;
    req.method(http::verb::post);
    impl_->setCommonHeaders(req, target);
    req.set(http::field::content_type, contentType);
    req.set(http::field::content_length, std::to_string(contentLength));
    http::request_serializer<http::empty_body> serializer(req);
    auto ec = impl_->run(
        [&](auto handler) { http::async_write_header(*impl_->stream, serializer, handler); });
    if (ec) {
        return impl_->fail("sending " + target, ec);
    }
    std::uint64_t sent = 0;
    std::optional<Error> sendError;
    Sink sink = [&](std::string_view bytes) -> Result<void> {
        if (sent + bytes.size() > contentLength) {
            return makeError(
                ErrorCode::InvalidArgument,
                "upload body is longer than its Content-Length " + std::to_string(contentLength));
        }
        auto wec = impl_->run([&](auto handler) {
            asio::async_write(*impl_->stream, asio::buffer(bytes.data(), bytes.size()), handler);
        });
        if (wec) {
            sendError = makeError(ErrorCode::Internal,
                                  endpoint() + ": sending " + target + ": " + describe(wec));
            return *sendError;
        }
        sent += bytes.size();
        return {};
    };
    auto written = writer(sink);
    if (!written || sent != contentLength) {
        // The server may have answered early (e.g. 401) and closed: prefer its answer.
        if (sendError && impl_->stream) {
            auto early = impl_->readResponse();
            if (early && early->status >= 300) {
                return httpError(early->status, early->body, endpoint());
            }
        }
        impl_->stream.reset();
        if (!written) {
            return written.error();
        }
        return makeError(ErrorCode::InvalidArgument, "upload body has " + std::to_string(sent) +
                                                         " bytes, not its Content-Length " +
                                                         std::to_string(contentLength));
    }
    auto res = impl_->readResponse();
    if (!res) {
        return res.error();
    }
    if (res->status >= 300) {
        return httpError(res->status, res->body, endpoint());
    }
    auto json = nlohmann::json::parse(res->body, nullptr, false);
    if (json.is_discarded()) {
        return makeError(ErrorCode::Internal,
                         "the answer to " + target + " from " + endpoint() + " is not JSON");
    }
    return json;
}

Result<std::uint64_t> HttpsClient::download(const std::string& target, int fd) {
    if (auto c = impl_->ensureConnected(); !c) {
        return c.error();
    }
    http::request<http::empty_body> req;
    req.method(http::verb::get);
    impl_->setCommonHeaders(req, target);
    auto ec = impl_->run([&](auto handler) { http::async_write(*impl_->stream, req, handler); });
    if (ec) {
        return impl_->fail("sending " + target, ec);
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    ec = impl_->run([&](auto handler) {
        http::async_read_header(*impl_->stream, impl_->buffer, parser, handler);
    });
    if (ec) {
        return impl_->fail("reading the response to " + target, ec);
    }
    unsigned status = parser.get().result_int();
    bool good = status < 300;
    std::string errorBody;
    std::vector<char> chunk(kDownloadChunk);
    std::uint64_t total = 0;
    while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        ec = impl_->run([&](auto handler) {
            http::async_read(*impl_->stream, impl_->buffer, parser, handler);
        });
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            return impl_->fail("reading the response to " + target, ec);
        }
        std::size_t n = chunk.size() - parser.get().body().size;
        if (!good) {
            errorBody.append(chunk.data(), std::min(n, kMaxErrorBody - errorBody.size()));
            continue;
        }
        for (std::size_t off = 0; off < n;) {
            ssize_t w = ::write(fd, chunk.data() + off, n - off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                impl_->stream.reset();
                return makeError(ErrorCode::Internal,
                                 std::string("writing download: ") + std::strerror(errno));
            }
            off += static_cast<std::size_t>(w);
        }
        total += n;
    }
    if (!parser.get().keep_alive()) {
        impl_->stream.reset();
    }
    if (!good) {
        return httpError(status, errorBody, endpoint());
    }
    return total;
}

}  // namespace fetchml
