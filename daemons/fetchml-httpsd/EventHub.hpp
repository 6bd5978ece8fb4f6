#pragma once
// EventHub: fetchmld's JobChanged signals, fanned out to the WebSocket clients of /v1/events.
// It owns one sdbus-c++ connection of its own (same bus as SchedulerProxy: "system", honouring
// DBUS_SYSTEM_BUS_ADDRESS, or "session") with the generated Scheduler1 proxy registered for
// JobChanged, processed by sdbus-c++'s own thread (enterEventLoopAsync). Each signal is turned
// into its JSON message on that thread (EventRequest jobEventMessage) and posted onto the
// io_context, where it goes to every subscriber that may see the job (mayWatch on props.user)
// and asked for it (EventFilter). Subscribers are used on the io_context only.
// The match rule names the service, so events resume by themselves when fetchmld restarts.

#include <memory>
#include <set>
#include <string>

#include "EventRequest.hpp"

namespace boost::asio {
class io_context;
}

namespace sdbus {
class IConnection;
}

namespace fetchml::edge {

/// One client of the hub (an EventSocket); all calls come on the io_context.
class EventSubscriber {
public:
    virtual ~EventSubscriber() = default;
    /// Who is watching (decides which jobs it may see).
    virtual const EventViewer& viewer() const = 0;
    /// Which jobs it asked for.
    virtual const EventFilter& filter() const = 0;
    /// Queues one text message; must not block (a slow client is dropped, not waited for).
    virtual void deliver(std::shared_ptr<const std::string> message) = 0;
    /// Closes the connection with close code 1001 (going away): the server stops.
    virtual void goingAway() = 0;
};

/// The signal side of /v1/events.
class EventHub {
public:
    /// Connects to `bus` ("system" or "session") and starts the connection's thread. Signals
    /// are posted onto `io`, which must outlive the hub's last run (the daemon destroys the hub
    /// after io.run() returned). Throws sdbus::Error when the bus cannot be reached (start-up).
    EventHub(boost::asio::io_context& io, const std::string& bus);
    /// Stops and joins the D-Bus thread.
    ~EventHub();
    EventHub(const EventHub&) = delete;
    EventHub& operator=(const EventHub&) = delete;

    /// Adds a subscriber (io_context thread); it must unsubscribe before it is destroyed.
    void subscribe(EventSubscriber* subscriber);
    /// Removes a subscriber (io_context thread).
    void unsubscribe(EventSubscriber* subscriber);
    /// Graceful stop: every subscriber is closed with 1001; later subscribers too.
    void closeAll();
    /// Sends a JobChanged event to the subscribers that may see it and asked for it
    /// (io_context thread). `owner` is props.user ("" when absent).
    void publish(const std::string& id, const std::string& owner,
                 std::shared_ptr<const std::string> message);
    /// Number of subscribers (for logs and tests).
    std::size_t size() const { return subscribers_.size(); }

private:
    class Glue;
    boost::asio::io_context& io_;
    std::set<EventSubscriber*> subscribers_;
    bool closing_ = false;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<Glue> glue_;
};

}  // namespace fetchml::edge
