#include "HttpServer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <set>

#include "ApiHandler.hpp"
#include "AuthAudit.hpp"
#include "ErrorResponse.hpp"
#include "EventSocket.hpp"
#include "Router.hpp"
#include "UploadSpool.hpp"
#include "core/Log.hpp"

namespace fetchml::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

/// A Beast body type whose reader appends to an UploadSpool file (Beast "Body" concept):
/// the upload never sits in memory.
struct SpoolBody {
    using value_type = UploadSpool;

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) {
            ec = body_.valid() ? beast::error_code{}
                               : beast::errc::make_error_code(beast::errc::bad_file_descriptor);
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
            std::size_t done = 0;
            for (auto buffer : beast::buffers_range_ref(buffers)) {
                auto written = body_.write(buffer.data(), buffer.size());
                if (!written) {
                    ec = beast::errc::make_error_code(written.error().code ==
                                                              ErrorCode::InvalidArgument
                                                          ? beast::errc::file_too_large
                                                          : beast::errc::no_space_on_device);
                    return done;
                }
                done += buffer.size();
            }
            ec = {};
            return done;
        }

        void finish(beast::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

/// An answer on its way out, with the transport's own extras.
struct Reply {
    ApiResponse api;
    std::string allow;             ///< Allow header for 405
    std::uint32_t retryAfter = 0;  ///< Retry-After header for 429, seconds; 0 = none
    bool close = false;  ///< close the connection after it (the request body was not read)
    bool abort = false;  ///< the connection is broken: write nothing
};

Reply errorReply(unsigned status, const Error& error) {
    Reply reply;
    auto response = ErrorResponse::from(status, error);
    reply.api.status = response.status;
    reply.api.body = std::move(response.body);
    if (status >= 500) {
        reply.api.failure = error.message;
    }
    return reply;
}

/// Runs work(proxy) on a D-Bus pool thread and resumes the calling coroutine on its own
/// executor with the result. A work guard keeps the loop alive while the call is out.
/// `work` is taken by reference and copied at once: callers pass a named local, never a
/// temporary, because GCC 12 mishandles (destroys twice) temporaries of a co_await operand.
template <typename T>
asio::awaitable<T> onPool(SchedulerClient& pool, const std::function<T(SchedulerProxy&)>& call) {
    std::function<T(SchedulerProxy&)> work = call;
    auto initiate = [&pool, work = std::move(work)](auto handler) mutable {
        auto guard = asio::make_work_guard(asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        pool.post([shared, guard, work = std::move(work)](SchedulerProxy& proxy) mutable {
            auto result = std::make_shared<T>(work(proxy));
            asio::post(guard.get_executor(),
                       [shared, result, guard]() mutable { (*shared)(std::move(*result)); });
        });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        std::move(initiate), asio::use_awaitable);
}

bool isHttpParseError(const beast::error_code& ec) {
    return ec.category() == make_error_code(http::error::end_of_stream).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

class Session;

/// Shared state of the server: the listener and the set of live connections.
class ServerState : public std::enable_shared_from_this<ServerState> {
public:
    ServerState(asio::io_context& io, SSL_CTX* tls, SchedulerClient& scheduler,
                HttpServerOptions options)
        : io_(io),
          tls_((SSL_CTX_up_ref(tls), tls)),
          acceptor_(io),
          scheduler_(scheduler),
          options_(std::move(options)),
          limiter_(options_.limits),
          connections_(options_.connections),
          retryTimer_(io),
          closingTimer_(io) {}

    asio::awaitable<void> acceptLoop();
    /// Whether the peer of a just accepted socket is in the allowlist and under the
    /// connection caps (then it is counted in connections_ and its endpoint is stored in
    /// `peer`); closes it if not.
    bool admitPeer(tcp::socket& socket, tcp::endpoint& peer);
    void add(Session* session) { sessions_.insert(session); }
    void remove(Session* session);
    void shutdown(std::function<void()> drained);
    /// During a stop: once only WebSocket clients remain, gives them kWebSocketCloseGrace to
    /// answer the 1001 close, then reports the server drained anyway (a client that does not
    /// read would otherwise hold the stop until the close handshake times out).
    void awaitWebSocketsClosed();

    static constexpr std::chrono::seconds kWebSocketCloseGrace{3};

    asio::io_context& io_;
    asio::ssl::context tls_;
    tcp::acceptor acceptor_;
    SchedulerClient& scheduler_;
    HttpServerOptions options_;
    RateLimiter limiter_;
    ConnectionLimiter connections_;
    asio::steady_timer retryTimer_;
    asio::steady_timer closingTimer_;
    std::set<Session*> sessions_;
    bool stopping_ = false;
    std::function<void()> drained_;
};

/// One TLS connection: handshake, then requests one after another (HTTP/1.1 keep-alive), or
/// handed over to an EventSocket after a GET /v1/events upgrade.
class Session : public std::enable_shared_from_this<Session> {
public:
    /// `peer`: the endpoint admitPeer() counted the connection under.
    Session(std::shared_ptr<ServerState> server, tcp::socket socket, const tcp::endpoint& peer)
        : server_(std::move(server)),
          stream_(std::move(socket), server_->tls_),
          peer_(peer.address().to_string()),
          remote_(peer_ + ":" + std::to_string(peer.port())) {
        server_->add(this);
    }
    ~Session() {
        server_->connections_.release(peer_);
        server_->remove(this);
    }

    /// The connection's coroutine; `self` keeps the session alive until it ends.
    static asio::awaitable<void> run(std::shared_ptr<Session> self);

    /// True once the stream belongs to an EventSocket (a WebSocket client).
    bool handedOff() const { return handedOff_; }

    /// Cancels a connection that waits for its next request (graceful stop).
    void cancelIfIdle() {
        if (idle_) {
            lowest().cancel();
        }
    }

private:
    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
    const HttpServerOptions& options() const { return server_->options_; }

    asio::awaitable<bool> serveOne();
    /// Reads and discards what the client still sends (lingering close; see linger_).
    asio::awaitable<void> drainForClose();
    /// Waits (idle timeout) for the first bytes of the next request unless some are buffered.
    /// False when the connection closed, failed or timed out first.
    asio::awaitable<bool> awaitRequest();
    asio::awaitable<Reply> perform(http::request_parser<http::empty_body>& header, RouteMatch match,
                                   std::string key);
    /// GET /v1/events: needs a WebSocket upgrade (else 426) and a key that fetchmld's Hello
    /// accepts (else its error, 401 for a bad key); then the stream goes to an EventSocket,
    /// which keeps this session (and its connection slot) until it ends. Answers 101 then.
    asio::awaitable<Reply> upgradeEvents(http::request_parser<http::empty_body>& header,
                                         std::string key);
    asio::awaitable<Reply> readSpooled(http::request_parser<http::empty_body>& header,
                                       ApiRequest& request);
    asio::awaitable<Reply> readJson(http::request_parser<http::empty_body>& header,
                                    ApiRequest& request);
    asio::awaitable<std::uint64_t> send(Reply& reply, unsigned version, bool keepAlive);
    template <class Body>
    asio::awaitable<beast::error_code> write(http::response<Body>& response);
    Reply bodyReadFailure(const beast::error_code& ec);
    /// Reads the rest of a request body into parser, each read under the read timeout.
    template <class Parser>
    asio::awaitable<beast::error_code> readBody(Parser& parser);

    std::shared_ptr<ServerState> server_;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::string peer_;    ///< client address without port (rate limits)
    std::string remote_;  ///< address:port (logs)
    bool idle_ = true;
    bool handedOff_ = false;  ///< stream_ now belongs to an EventSocket
    /// The last answer closes a connection whose request body was not read: drain the client's
    /// data for a moment before closing, so the kernel does not answer it with a reset that
    /// destroys our answer in the client's buffers (lingering close, as Apache httpd does).
    bool linger_ = false;
};

void ServerState::remove(Session* session) {
    sessions_.erase(session);
    if (stopping_ && sessions_.empty() && drained_) {
        asio::post(io_, std::exchange(drained_, nullptr));
    }
}

void ServerState::shutdown(std::function<void()> drained) {
    stopping_ = true;
    drained_ = std::move(drained);
    beast::error_code ec;
    acceptor_.close(ec);
    retryTimer_.cancel();
    if (options_.events != nullptr) {
        options_.events->closeAll();  // WebSocket clients: close 1001
    }
    for (Session* session : sessions_) {
        session->cancelIfIdle();
    }
    if (sessions_.empty() && drained_) {
        asio::post(io_, std::exchange(drained_, nullptr));
        return;
    }
    awaitWebSocketsClosed();
}

void ServerState::awaitWebSocketsClosed() {
    closingTimer_.expires_after(kWebSocketCloseGrace);
    closingTimer_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
        if (ec || !self->drained_) {
            return;
        }
        bool onlyWebSockets = std::all_of(self->sessions_.begin(), self->sessions_.end(),
                                          [](Session* s) { return s->handedOff(); });
        if (!onlyWebSockets) {
            self->awaitWebSocketsClosed();  // HTTP requests in flight: EdgeDaemon bounds those
            return;
        }
        logger("edge.http")
            ->info("{} WebSocket clients did not answer the close within {}s; stopping anyway",
                   self->sessions_.size(), kWebSocketCloseGrace.count());
        asio::post(self->io_, std::exchange(self->drained_, nullptr));
    });
}

bool ServerState::admitPeer(tcp::socket& socket, tcp::endpoint& peer) {
    beast::error_code ec;
    peer = socket.remote_endpoint(ec);
    std::string address = ec ? "?" : peer.address().to_string();
    if (ec || !options_.allowlist.allows(address)) {
        logger("edge.http")->warn("refused {}: not in https.allowlist", address);
        socket.close(ec);
        return false;
    }
    auto admission = connections_.admit(address);
    if (admission.refusal == ConnectionLimiter::Refusal::None) {
        return true;
    }
    if (admission.log) {
        bool perAddress = admission.refusal == ConnectionLimiter::Refusal::PerAddress;
        logger("edge.http")
            ->warn(
                "refused {}: {} connections open {} (https.{}); {} more refused since the "
                "last warning for this address (logged at most once a minute)",
                address, perAddress ? admission.open : connections_.total(),
                perAddress ? "from this address" : "in all",
                perAddress ? "max_connections_per_address" : "max_connections",
                admission.suppressed);
    }
    socket.close(ec);
    return false;
}

asio::awaitable<void> ServerState::acceptLoop() {
    auto self = shared_from_this();
    while (!stopping_) {
        beast::error_code ec;
        tcp::socket socket =
            co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) {
            co_return;
        }
        if (ec) {
            // Out of descriptors and the like: wait a little rather than spin.
            logger("edge.http")->warn("accept failed: {}", ec.message());
            retryTimer_.expires_after(std::chrono::milliseconds(200));
            co_await retryTimer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        tcp::endpoint peer;
        if (!admitPeer(socket, peer)) {
            continue;
        }
        auto session = std::make_shared<Session>(self, std::move(socket), peer);
        asio::co_spawn(io_, Session::run(session), [](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    logger("edge.http")->error("connection failed: {}", ex.what());
                }
            }
        });
    }
}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
    beast::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    self->lowest().expires_after(self->options().readTimeout);
    co_await self->stream_.async_handshake(asio::ssl::stream_base::server, token);
    if (ec) {
        logger("edge.tls")->debug("{}: TLS handshake failed: {}", self->remote_, ec.message());
        co_return;
    }
    while (!self->server_->stopping_) {
        bool again = co_await self->serveOne();
        if (!again) {
            break;
        }
    }
    if (self->handedOff_) {
        co_return;
    }
    if (self->linger_) {
        co_await self->drainForClose();
    }
    self->lowest().expires_after(std::chrono::seconds(2));
    co_await self->stream_.async_shutdown(token);
    self->lowest().close();
}

asio::awaitable<void> Session::drainForClose() {
    // At most 2 s and 64 MiB, discarded through one small buffer: bounded time, no memory.
    constexpr std::size_t kMaxDrain = 64u << 20;
    lowest().expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    std::size_t drained = 0;
    beast::error_code ec;
    while (drained < kMaxDrain && !server_->stopping_) {
        std::size_t n = co_await stream_.async_read_some(
            asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;
        }
        drained += n;
    }
}

asio::awaitable<bool> Session::serveOne() {
    beast::error_code ec;
    http::request_parser<http::empty_body> header;
    header.header_limit(options().maxHeaderBytes);
    header.body_limit(options().maxBodyBytes);
    idle_ = true;
    if (!co_await awaitRequest()) {
        co_return false;  // closed, reset, timed out or cancelled between requests
    }
    // From the request's first byte, one deadline for all of its line and headers.
    lowest().expires_after(options().headerTimeout);
    co_await http::async_read_header(stream_, buffer_, header,
                                     asio::redirect_error(asio::use_awaitable, ec));
    idle_ = false;
    if (ec && ec != http::error::header_limit && !isHttpParseError(ec)) {
        co_return false;  // closed, reset, timed out or cancelled between requests
    }
    auto start = std::chrono::steady_clock::now();
    const auto& req = header.get();
    std::string method(req.method_string());
    std::string target(req.target());
    std::string authorization(req[http::field::authorization]);  // for the audit event
    unsigned version = req.version();
    bool keepAlive = req.keep_alive();
    Reply reply;
    if (ec == http::error::body_limit) {
        // Content-Length over the cap: refused before any of the body is read.
        reply = errorReply(413, makeError(ErrorCode::InvalidArgument,
                                          "request body larger than the server accepts"));
        reply.close = true;
    } else if (ec) {
        bool tooLarge = ec == http::error::header_limit;
        reply = errorReply(tooLarge ? 431 : 400,
                           makeError(ErrorCode::InvalidArgument,
                                     tooLarge ? "request headers are too large"
                                              : "malformed HTTP request: " + ec.message()));
        reply.close = true;
        version = 11;
    } else if (auto routed = Router::match(method, target);
               auto* bad = std::get_if<RouteError>(&routed)) {
        reply = errorReply(bad->status, bad->error);
        reply.allow = bad->allow;
        reply.close = !header.is_done();
    } else {
        auto& match = std::get<RouteMatch>(routed);
        auto authorization = req[http::field::authorization];
        std::string key = Router::bearerToken({authorization.data(), authorization.size()});
        std::uint32_t wait = match.route == Route::Health ? 0 : server_->limiter_.admit(peer_, key);
        if (wait > 0) {
            reply = errorReply(429, makeError(ErrorCode::Busy, "too many requests; retry in " +
                                                                   std::to_string(wait) + " s"));
            reply.retryAfter = wait;
            reply.close = !header.is_done();
        } else if (match.needsAuth && key.empty()) {
            reply = errorReply(401, makeError(ErrorCode::Unauthenticated,
                                              "missing 'Authorization: Bearer <api key>' header"));
            reply.close = !header.is_done();
        } else if (match.route == Route::Events) {
            reply = co_await upgradeEvents(header, std::move(key));
        } else {
            reply = co_await perform(header, std::move(match), std::move(key));
        }
    }
    if (reply.abort) {
        co_return false;
    }
    if (reply.api.status == 401) {
        server_->limiter_.recordAuthFailure(peer_);
    }
    AuthAudit::record(method, target, authorization, peer_, reply.api.status, reply.api.body);
    keepAlive = keepAlive && !reply.close && !server_->stopping_;
    linger_ = !keepAlive && !header.is_done();
    std::uint64_t bytes = 0;
    if (!handedOff_) {
        bytes = co_await send(reply, version, keepAlive);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    logger("edge.access")
        ->info("{} \"{} {}\" {} {} {}ms", remote_, method.empty() ? "-" : method,
               target.empty() ? "-" : Router::redactTarget(target), reply.api.status, bytes, ms);
    if (reply.api.status >= 500) {
        logger("edge.http")
            ->error("{} {}: {}", method, target.substr(0, target.find('?')), reply.api.failure);
    }
    co_return keepAlive && !handedOff_;
}

asio::awaitable<Reply> Session::upgradeEvents(http::request_parser<http::empty_body>& header,
                                              std::string key) {
    EventHub* hub = options().events;
    if (hub == nullptr) {
        // Locals, not temporaries, in co_return: GCC 12 may destroy a co_return operand's
        // temporaries twice (the same miscompilation as with co_await inside ?:).
        Reply unavailable =
            errorReply(503, makeError(ErrorCode::Busy, "live events are not available"));
        co_return unavailable;
    }
    if (!header.is_done() || !beast::websocket::is_upgrade(header.get())) {
        Reply reply =
            errorReply(426, makeError(ErrorCode::InvalidArgument,
                                      "GET /v1/events needs a WebSocket upgrade (RFC 6455)"));
        reply.close = !header.is_done();
        co_return reply;
    }
    // Strings only cross back to the loop: sdbus::Variant stays on the pool thread.
    std::function<Result<EventViewer>(SchedulerProxy&)> hello =
        [key = std::move(key)](SchedulerProxy& proxy) -> Result<EventViewer> {
        auto hello = proxy.call("Hello", VariantMap{{"api_key", sdbus::Variant(key)}});
        if (!hello) {
            return hello.error();
        }
        auto user = getString(hello.value(), "user");
        auto role = getString(hello.value(), "role");
        if (!user || !role) {
            return makeError(ErrorCode::Internal, "Hello answered without user or role");
        }
        return EventViewer{user.value(), role.value()};
    };
    auto viewer = co_await onPool<Result<EventViewer>>(server_->scheduler_, hello);
    if (!viewer) {
        unsigned status = ErrorResponse::from(viewer.error()).status;
        Reply refused = errorReply(status, viewer.error());
        co_return refused;
    }
    handedOff_ = true;
    EventSocketOptions eventOptions;
    eventOptions.maxMessageBytes = options().wsMaxMessageBytes;
    EventSocket::start(std::move(stream_), header.release(), *hub, std::move(viewer.value()),
                       eventOptions, remote_, shared_from_this());
    Reply reply;
    reply.api.status = 101;
    co_return reply;
}

asio::awaitable<Reply> Session::perform(http::request_parser<http::empty_body>& header,
                                        RouteMatch match, std::string key) {
    auto request = std::make_shared<ApiRequest>();
    request->match = std::move(match);
    request->apiKey = std::move(key);
    request->remoteAddr = peer_;
    request->learnRateLimit = !server_->limiter_.knowsKeyLimit(request->apiKey);
    if (!header.is_done()) {
        if (beast::iequals(header.get()[http::field::expect], "100-continue")) {
            http::response<http::empty_body> cont{http::status::continue_, header.get().version()};
            if (co_await write(cont)) {
                co_return Reply{{}, {}, true, true};
            }
        }
        // No co_await inside ?: — GCC 12 destroys the temporaries of such an expression twice.
        Reply failed;
        if (request->match.streamedBody) {
            failed = co_await readSpooled(header, *request);
        } else {
            failed = co_await readJson(header, *request);
        }
        if (failed.abort || failed.api.status != 200) {
            co_return failed;
        }
    }
    if (request->match.streamedBody && !request->upload.valid()) {
        co_return errorReply(
            400, makeError(ErrorCode::InvalidArgument, "POST /v1/blobs needs a blob pack body"));
    }
    Reply reply;
    if (request->match.route == Route::Health) {
        reply.api = ApiHandler::health();
        co_return reply;
    }
    std::function<ApiResponse(SchedulerProxy&)> handle = [request](SchedulerProxy& proxy) {
        return ApiHandler::handle(*request, proxy);
    };
    reply.api = co_await onPool<ApiResponse>(server_->scheduler_, handle);
    if (reply.api.rateLimitPerMinute) {
        server_->limiter_.setKeyLimit(RateLimiter::keyId(request->apiKey),
                                      *reply.api.rateLimitPerMinute);
    }
    co_return reply;
}

asio::awaitable<bool> Session::awaitRequest() {
    if (buffer_.size() > 0) {
        co_return true;  // a pipelined request is already here
    }
    beast::error_code ec;
    lowest().expires_after(options().idleTimeout);
    std::size_t got = co_await stream_.async_read_some(
        buffer_.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
    buffer_.commit(got);
    co_return !ec && got > 0;
}

template <class Parser>
asio::awaitable<beast::error_code> Session::readBody(Parser& parser) {
    beast::error_code ec;
    while (!parser.is_done() && !ec) {
        lowest().expires_after(options().readTimeout);
        co_await http::async_read_some(stream_, buffer_, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return ec;
}

Reply Session::bodyReadFailure(const beast::error_code& ec) {
    Reply reply;
    if (ec == http::error::body_limit || ec == beast::errc::file_too_large) {
        reply = errorReply(413, makeError(ErrorCode::InvalidArgument,
                                          "request body larger than the server accepts"));
    } else if (ec == beast::errc::no_space_on_device) {
        reply = errorReply(500, makeError(ErrorCode::Internal, "cannot spool the upload"));
    } else if (isHttpParseError(ec)) {
        reply = errorReply(
            400, makeError(ErrorCode::InvalidArgument, "malformed request body: " + ec.message()));
    } else {
        reply.abort = true;  // the peer went away or stalled: nobody to answer
    }
    reply.close = true;
    return reply;
}

asio::awaitable<Reply> Session::readSpooled(http::request_parser<http::empty_body>& header,
                                            ApiRequest& request) {
    auto spool =
        UploadSpool::open(UploadSpool::directory(options().spoolDir), options().maxBodyBytes);
    if (!spool) {
        Reply reply = errorReply(500, spool.error());
        reply.close = true;
        co_return reply;
    }
    http::request_parser<SpoolBody> parser(std::move(header));
    parser.body_limit(options().maxBodyBytes);
    parser.get().body() = std::move(spool.value());
    beast::error_code ec = co_await readBody(parser);
    if (ec) {
        co_return bodyReadFailure(ec);
    }
    auto fd = parser.get().body().finish();
    if (!fd) {
        Reply failed = errorReply(500, fd.error());
        co_return failed;
    }
    request.upload = std::move(fd.value());
    co_return Reply{};
}

asio::awaitable<Reply> Session::readJson(http::request_parser<http::empty_body>& header,
                                         ApiRequest& request) {
    http::request_parser<http::string_body> parser(std::move(header));
    std::uint64_t limit = std::min(options().maxJsonBytes, options().maxBodyBytes);
    parser.body_limit(limit);
    // Beast checks a Content-Length against body_limit only while parsing the header, which
    // ran with the (larger) upload cap; check the JSON cap here before reading anything.
    if (auto length = parser.content_length(); length && *length > limit) {
        co_return bodyReadFailure(http::error::body_limit);
    }
    beast::error_code ec = co_await readBody(parser);
    if (ec) {
        co_return bodyReadFailure(ec);
    }
    request.body = parser.release().body();
    co_return Reply{};
}

template <class Body>
asio::awaitable<beast::error_code> Session::write(http::response<Body>& response) {
    beast::error_code ec;
    http::serializer<false, Body> serializer{response};
    while (!serializer.is_done() && !ec) {
        lowest().expires_after(options().readTimeout);
        co_await http::async_write_some(stream_, serializer,
                                        asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return ec;
}

asio::awaitable<std::uint64_t> Session::send(Reply& reply, unsigned version, bool keepAlive) {
    auto common = [&](auto& response) {
        response.set(http::field::server, "fetchml-httpsd");
        response.set(http::field::content_type, reply.api.contentType);
        response.set(http::field::cache_control, "no-store");
        response.set("X-Content-Type-Options", "nosniff");
        if (!reply.allow.empty()) {
            response.set(http::field::allow, reply.allow);
        }
        if (reply.retryAfter > 0) {
            response.set(http::field::retry_after, std::to_string(reply.retryAfter));
        }
        if (reply.api.status == 401) {
            response.set(http::field::www_authenticate, "Bearer realm=\"fetchml\"");
        }
        response.keep_alive(keepAlive);
    };
    auto status = static_cast<http::status>(reply.api.status);
    if (reply.api.file.valid()) {
        http::response<http::file_body> response{status, version};
        beast::file_posix file;
        beast::error_code ec;
        file.native_handle(reply.api.file.release());
        response.body().reset(std::move(file), ec);
        if (!ec) {
            common(response);
            response.prepare_payload();
            std::uint64_t size = response.body().size();
            co_await write(response);
            co_return size;
        }
        reply = errorReply(500, makeError(ErrorCode::Internal, "cannot read the blob"));
        reply.close = true;
    }
    http::response<http::string_body> response{status, version, std::move(reply.api.body)};
    common(response);
    response.prepare_payload();
    std::uint64_t size = response.body().size();
    co_await write(response);
    co_return size;
}

HttpServer::HttpServer(asio::io_context& io, SSL_CTX* tls, SchedulerClient& scheduler,
                       HttpServerOptions options)
    : impl_(std::make_shared<ServerState>(io, tls, scheduler, std::move(options))) {}

HttpServer::~HttpServer() = default;

Result<std::uint16_t> HttpServer::listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(impl_->options_.address, ec);
    if (ec) {
        return makeError(ErrorCode::InvalidArgument,
                         "https.address '" + impl_->options_.address + "': " + ec.message());
    }
    tcp::endpoint endpoint(address, impl_->options_.port);
    auto& acceptor = impl_->acceptor_;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return makeError(ErrorCode::Internal, "cannot listen on " + impl_->options_.address + ":" +
                                                  std::to_string(impl_->options_.port) + ": " +
                                                  ec.message());
    }
    return acceptor.local_endpoint().port();
}

void HttpServer::start() {
    asio::co_spawn(impl_->io_, impl_->acceptLoop(), [](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                logger("edge.http")->critical("accept loop failed: {}", ex.what());
            }
        }
    });
}

void HttpServer::shutdown(std::function<void()> drained) {
    impl_->shutdown(std::move(drained));
}

}  // namespace fetchml::edge
