#include "EventSocket.hpp"

#include "core/Log.hpp"

namespace fetchml::edge {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

void EventSocket::start(TlsStream stream, UpgradeRequest request, EventHub& hub, EventViewer viewer,
                        EventSocketOptions options, std::string remote,
                        std::shared_ptr<void> owner) {
    auto socket = std::make_shared<EventSocket>(std::move(stream), hub, std::move(viewer), options,
                                                std::move(remote), std::move(owner));
    socket->accept(std::move(request));
}

EventSocket::EventSocket(TlsStream stream, EventHub& hub, EventViewer viewer,
                         EventSocketOptions options, std::string remote,
                         std::shared_ptr<void> owner)
    : ws_(std::move(stream)),
      hub_(hub),
      viewer_(std::move(viewer)),
      options_(options),
      remote_(std::move(remote)),
      owner_(std::move(owner)) {
    // Beast's websocket timeouts replace the tcp_stream's (Beast documentation, "Timeouts").
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = options_.handshakeTimeout;
    timeout.idle_timeout = options_.pingInterval * 2;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
        response.set(http::field::server, "fetchml-httpsd");
    }));
    ws_.read_message_max(options_.maxMessageBytes);
    ws_.auto_fragment(false);
    ws_.text(true);
}

void EventSocket::accept(UpgradeRequest request) {
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
            self->finish(ec, "upgrade");
            return;
        }
        self->subscribed_ = true;
        self->hub_.subscribe(self.get());
        logger("edge.events")
            ->info("{}: watching events as {} ({})", self->remote_, self->viewer_.user,
                   self->viewer_.role);
        self->deliver(std::make_shared<const std::string>(readyMessage(self->viewer_)));
        self->readNext();
    });
}

void EventSocket::readNext() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) {
            self->finish(ec, "read");
            return;
        }
        self->onMessage();
        self->readNext();
    });
}

void EventSocket::onMessage() {
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!ws_.got_text()) {
        deliver(std::make_shared<const std::string>(errorMessage(
            makeError(ErrorCode::InvalidArgument, "messages must be JSON text frames"))));
        return;
    }
    auto parsed = parseEventRequest(text);
    if (!parsed) {
        logger("edge.events")->debug("{}: bad request: {}", remote_, parsed.error().message);
        deliver(std::make_shared<const std::string>(errorMessage(parsed.error())));
        return;
    }
    filter_ = std::move(parsed.value());
    deliver(std::make_shared<const std::string>(subscribedMessage(filter_)));
}

void EventSocket::deliver(std::shared_ptr<const std::string> message) {
    if (finished_ || closing_) {
        return;
    }
    if (queue_.size() >= kMaxQueued || queuedBytes_ + message->size() > kMaxQueuedBytes) {
        logger("edge.events")
            ->warn("{}: too slow ({} messages, {} bytes waiting): dropped", remote_, queue_.size(),
                   queuedBytes_);
        closeWith(websocket::close_code::policy_error, "too slow; reconnect");
        return;
    }
    queuedBytes_ += message->size();
    queue_.push_back(std::move(message));
    if (!writing_) {
        writeNext();
    }
}

void EventSocket::goingAway() {
    closeWith(websocket::close_code::going_away, "server stopping");
}

void EventSocket::closeWith(websocket::close_code code, const char* reason) {
    if (finished_ || closing_) {
        return;
    }
    queue_.clear();
    queuedBytes_ = 0;
    closing_ = websocket::close_reason(code, reason);
    if (subscribed_) {
        subscribed_ = false;
        hub_.unsubscribe(this);
    }
    if (!writing_) {
        writeNext();
    }
}

void EventSocket::writeNext() {
    if (finished_) {
        writing_ = false;
        return;
    }
    if (closing_) {
        writing_ = true;
        ws_.async_close(*closing_, [self = shared_from_this()](beast::error_code ec) {
            self->writing_ = false;
            if (ec) {
                self->finish(ec, "close");
            }
            // The pending read ends with websocket::error::closed once the peer answers.
        });
        return;
    }
    if (queue_.empty()) {
        writing_ = false;
        return;
    }
    writing_ = true;
    // The message in flight leaves the queue, so dropping the queue never frees its bytes.
    inFlight_ = std::move(queue_.front());
    queue_.pop_front();
    queuedBytes_ -= inFlight_->size();
    ws_.async_write(boost::asio::buffer(*inFlight_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->inFlight_.reset();
                        if (ec) {
                            self->writing_ = false;
                            self->finish(ec, "write");
                            return;
                        }
                        self->writeNext();
                    });
}

void EventSocket::finish(const beast::error_code& ec, const char* what) {
    if (subscribed_) {
        subscribed_ = false;
        hub_.unsubscribe(this);
    }
    if (finished_) {
        return;
    }
    finished_ = true;
    queue_.clear();
    queuedBytes_ = 0;
    auto log = logger("edge.events");
    if (ec == websocket::error::closed) {
        log->info("{}: closed ({})", remote_, ws_.reason().code);
    } else if (ec == websocket::error::message_too_big) {
        log->warn("{}: message over https.ws_max_message_bytes ({} bytes): closed with 1009",
                  remote_, options_.maxMessageBytes);
    } else {
        log->info("{}: {} ended: {}", remote_, what, ec.message());
    }
    // No forced close here: Beast has failed or is tearing down the stream (closing the
    // socket under its TLS teardown can leave it spinning); the socket closes when the last
    // handler holding this object is done.
}

}  // namespace fetchml::edge
