#pragma once
// EventSocket: one WebSocket client of GET /v1/events (RFC 6455, Boost.Beast), taken over from
// HttpServer once the upgrade request is authenticated (fetchmld's Hello gave its user and
// role). Protocol: EventRequest.hpp. Limits:
// - a client message over maxMessageBytes (https.ws_max_message_bytes) closes the connection
//   with close code 1009 (message too big, RFC 6455 §7.4.1);
// - a ping after pingInterval without data from the client, closed when another pingInterval
//   passes without any (Beast's idle timeout with keep-alive pings);
// - at most kMaxQueued messages / kMaxQueuedBytes wait for a slow client; over that its queue
//   is dropped and it is closed with 1008 (policy violation, reason "too slow; reconnect").
// Lives on the io_context; logs on "edge.events" with the client's address.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "EventHub.hpp"

namespace fetchml::edge {

/// Limits of one event connection.
struct EventSocketOptions {
    std::uint64_t maxMessageBytes = 4096;       ///< client message cap, bytes
    std::chrono::seconds pingInterval{30};      ///< ping after this long without data
    std::chrono::seconds handshakeTimeout{30};  ///< upgrade answer and close handshake
};

/// One upgraded connection.
class EventSocket : public EventSubscriber, public std::enable_shared_from_this<EventSocket> {
public:
    /// The TLS stream of HttpServer's sessions.
    using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
    /// The upgrade request as HttpServer read it (no body).
    using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

    /// Most messages waiting for one client before it is dropped.
    static constexpr std::size_t kMaxQueued = 256;
    /// Most bytes waiting for one client before it is dropped.
    static constexpr std::size_t kMaxQueuedBytes = 1u << 20;

    /// Takes over `stream` (TLS handshake done), answers the upgrade `request` (101) and
    /// subscribes to `hub` as `viewer`. A client sends nothing before the 101 (RFC 6455 §4.1),
    /// so no bytes read past the request are lost. `remote` is "address:port" for logs.
    /// Everything else happens on the stream's executor. `owner` (HttpServer's session: its
    /// connection slot) is kept until the connection ends.
    static void start(TlsStream stream, UpgradeRequest request, EventHub& hub, EventViewer viewer,
                      EventSocketOptions options, std::string remote, std::shared_ptr<void> owner);

    /// Use start(); public for std::make_shared.
    EventSocket(TlsStream stream, EventHub& hub, EventViewer viewer, EventSocketOptions options,
                std::string remote, std::shared_ptr<void> owner);

    const EventViewer& viewer() const override { return viewer_; }
    const EventFilter& filter() const override { return filter_; }
    void deliver(std::shared_ptr<const std::string> message) override;
    void goingAway() override;

private:
    void accept(UpgradeRequest request);
    void readNext();
    void onMessage();
    void writeNext();
    /// Drops the queue and closes with `code` once the write in flight (if any) is done.
    void closeWith(boost::beast::websocket::close_code code, const char* reason);
    void finish(const boost::beast::error_code& ec, const char* what);

    boost::beast::websocket::stream<TlsStream> ws_;
    boost::beast::flat_buffer buffer_;
    EventHub& hub_;
    EventViewer viewer_;
    EventFilter filter_;
    EventSocketOptions options_;
    std::string remote_;
    std::shared_ptr<void> owner_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    std::size_t queuedBytes_ = 0;                  ///< bytes in queue_
    std::shared_ptr<const std::string> inFlight_;  ///< the message being written
    bool writing_ = false;
    bool subscribed_ = false;
    bool finished_ = false;
    std::optional<boost::beast::websocket::close_reason> closing_;  ///< close to send
};

}  // namespace fetchml::edge
