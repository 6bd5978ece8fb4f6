#include "dbus/SdEventBus.hpp"

#include <sdbus-c++/Error.h>

#include <cerrno>
#include <limits>
#include <system_error>

#include "core/Log.hpp"

namespace fetchml {
namespace {

/// Messages handled per dispatch before other sources get a turn; the rest is picked up at
/// once because sd-bus then reports a timeout of 0 (sd_bus_get_timeout(3)).
constexpr int kMaxPerDispatch = 64;

void check(int r, const char* what) {
    if (r < 0) {
        throw std::system_error(-r, std::generic_category(), what);
    }
}

}  // namespace

SdEventBus::SdEventBus(sd_event* loop, sdbus::IConnection& connection)
    : loop_(loop), connection_(connection) {
    auto poll = connection_.getEventLoopPollData();
    fd_ = poll.fd;
    sd_event_source* src = nullptr;
    check(sd_event_add_io(loop_, &src, fd_, static_cast<std::uint32_t>(poll.events), &onIo, this),
          "sd_event_add_io(D-Bus)");
    io_.reset(src);
    check(sd_event_add_time(loop_, &src, CLOCK_MONOTONIC, 0, 0, &onTime, this),
          "sd_event_add_time(D-Bus)");
    timer_.reset(src);
    check(sd_event_add_post(loop_, &src, &onPost, this), "sd_event_add_post(D-Bus)");
    post_.reset(src);
    sd_event_source_set_description(io_.get(), "dbus-io");
    sd_event_source_set_description(timer_.get(), "dbus-timeout");
    sd_event_source_set_description(post_.get(), "dbus-post");
    rearm();
}

int SdEventBus::onIo(sd_event_source*, int, std::uint32_t, void* self) {
    static_cast<SdEventBus*>(self)->process();
    return 0;
}

int SdEventBus::onTime(sd_event_source*, std::uint64_t, void* self) {
    static_cast<SdEventBus*>(self)->process();
    return 0;
}

int SdEventBus::onPost(sd_event_source*, void* self) {
    static_cast<SdEventBus*>(self)->refresh();
    return 0;
}

void SdEventBus::refresh() {
    process();
    rearm();
}

void SdEventBus::process() {
    if (!failure_.empty()) {
        return;
    }
    try {
        for (int i = 0; i < kMaxPerDispatch && connection_.processPendingRequest(); ++i) {
        }
    } catch (const sdbus::Error& e) {
        fail(e.getMessage());
    }
}

void SdEventBus::rearm() {
    if (!failure_.empty()) {
        return;
    }
    try {
        auto poll = connection_.getEventLoopPollData();
        if (poll.fd != fd_) {
            // sd-bus keeps one fd per connection; follow it anyway should that ever change.
            sd_event_source* src = nullptr;
            check(sd_event_add_io(loop_, &src, poll.fd, 0, &onIo, this), "sd_event_add_io");
            io_.reset(src);
            fd_ = poll.fd;
        }
        check(sd_event_source_set_io_events(io_.get(), static_cast<std::uint32_t>(poll.events)),
              "sd_event_source_set_io_events");
        if (poll.timeout_usec == std::numeric_limits<std::uint64_t>::max()) {
            check(sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF),
                  "sd_event_source_set_enabled");
        } else {
            check(sd_event_source_set_time(timer_.get(), poll.timeout_usec),
                  "sd_event_source_set_time");
            check(sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT),
                  "sd_event_source_set_enabled");
        }
    } catch (const sdbus::Error& e) {
        fail(e.getMessage());
    } catch (const std::system_error& e) {
        fail(e.what());
    }
}

void SdEventBus::fail(const std::string& message) {
    failure_ = message.empty() ? "D-Bus connection failed" : message;
    logger("dbus")->debug("D-Bus connection failed: {}", failure_);
    sd_event_source_set_enabled(io_.get(), SD_EVENT_OFF);
    sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    sd_event_source_set_enabled(post_.get(), SD_EVENT_OFF);
    sd_event_exit(loop_, -ENOTCONN);
}

}  // namespace fetchml
