#include "EventHub.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <vector>

#include "core/Log.hpp"
#include "dbus/Scheduler1Proxy.h"

namespace fetchml::edge {

namespace {
constexpr const char* kService = "org.fetchml.Scheduler1";
constexpr const char* kObject = "/org/fetchml/Scheduler1";
}  // namespace

/// The generated proxy, registered for JobChanged. onJobChanged runs on the connection's
/// thread: it builds the message there (sdbus::Variant must not cross threads) and posts it.
class EventHub::Glue : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    Glue(sdbus::IConnection& connection, EventHub& hub)
        : ProxyInterfaces(connection, kService, kObject), hub_(hub) {
        registerProxy();
    }
    ~Glue() { unregisterProxy(); }

private:
    void onJobChanged(const std::string& id, const std::string& state,
                      const VariantMap& props) override {
        auto message = std::make_shared<const std::string>(jobEventMessage(id, state, props));
        auto owner = getString(props, "user", "");
        std::string user = owner ? owner.value() : "";
        logger("edge.events")->debug("job {}: {} (owner '{}')", id, state, user);
        EventHub* hub = &hub_;
        // The hub outlives every run of the loop (see the constructor's contract).
        boost::asio::post(hub_.io_, [hub, id, user = std::move(user), message] {
            hub->publish(id, user, message);
        });
    }

    EventHub& hub_;
};

EventHub::EventHub(boost::asio::io_context& io, const std::string& bus) : io_(io) {
    connection_ =
        bus == "session" ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
    glue_ = std::make_unique<Glue>(*connection_, *this);
    connection_->enterEventLoopAsync();
}

EventHub::~EventHub() {
    connection_->leaveEventLoop();
    glue_.reset();
}

void EventHub::subscribe(EventSubscriber* subscriber) {
    if (closing_) {
        subscriber->goingAway();
        return;
    }
    subscribers_.insert(subscriber);
}

void EventHub::unsubscribe(EventSubscriber* subscriber) {
    subscribers_.erase(subscriber);
}

void EventHub::closeAll() {
    closing_ = true;
    // goingAway() may unsubscribe synchronously: iterate over a copy.
    std::vector<EventSubscriber*> all(subscribers_.begin(), subscribers_.end());
    for (EventSubscriber* subscriber : all) {
        if (subscribers_.count(subscriber) > 0) {
            subscriber->goingAway();
        }
    }
}

void EventHub::publish(const std::string& id, const std::string& owner,
                       std::shared_ptr<const std::string> message) {
    std::vector<EventSubscriber*> targets;
    for (EventSubscriber* subscriber : subscribers_) {
        if (mayWatch(subscriber->viewer(), owner) && subscriber->filter().wants(id)) {
            targets.push_back(subscriber);
        }
    }
    // deliver() may drop a slow client, which unsubscribes it: check membership again.
    for (EventSubscriber* subscriber : targets) {
        if (subscribers_.count(subscriber) > 0) {
            subscriber->deliver(message);
        }
    }
}

}  // namespace fetchml::edge
