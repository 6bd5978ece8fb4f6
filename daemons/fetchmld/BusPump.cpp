#include "BusPump.hpp"

#include <poll.h>
#include <sys/epoll.h>

#include <limits>
#include <stdexcept>

#include "core/Log.hpp"

namespace fetchml {

BusPump::BusPump(sd_event* loop, sdbus::IConnection& connection)
    : loop_(loop), connection_(connection) {
    auto data = connection_.getEventLoopPollData();
    fd_ = data.fd;
    sd_event_source* source = nullptr;
    if (sd_event_add_io(loop_, &source, fd_, EPOLLIN, &BusPump::onIo, this) < 0) {
        throw std::runtime_error("cannot watch the D-Bus connection");
    }
    io_.reset(source);
    if (sd_event_add_time(loop_, &source, CLOCK_MONOTONIC, std::numeric_limits<uint64_t>::max(), 0,
                          &BusPump::onTime, this) < 0) {
        throw std::runtime_error("cannot add the D-Bus timer");
    }
    timer_.reset(source);
    sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    if (sd_event_add_post(loop_, &source, &BusPump::onPost, this) < 0) {
        throw std::runtime_error("cannot add the D-Bus post source");
    }
    post_.reset(source);
    process();
}

int BusPump::onIo(sd_event_source*, int, std::uint32_t, void* self) {
    static_cast<BusPump*>(self)->process();
    return 0;
}

int BusPump::onTime(sd_event_source*, std::uint64_t, void* self) {
    static_cast<BusPump*>(self)->process();
    return 0;
}

int BusPump::onPost(sd_event_source*, void* self) {
    // Post sources run after every other dispatched source: flush what handlers queued.
    static_cast<BusPump*>(self)->process();
    return 0;
}

void BusPump::process() {
    while (connection_.processPendingRequest()) {
    }
    rearm();
}

void BusPump::rearm() {
    auto data = connection_.getEventLoopPollData();
    std::uint32_t events = 0;
    if (data.events & POLLIN) {
        events |= EPOLLIN;
    }
    if (data.events & POLLOUT) {
        events |= EPOLLOUT;
    }
    sd_event_source_set_io_events(io_.get(), events);
    if (data.timeout_usec == std::numeric_limits<uint64_t>::max()) {
        sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    } else {
        sd_event_source_set_time(timer_.get(), data.timeout_usec);
        sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT);
    }
}

}  // namespace fetchml
