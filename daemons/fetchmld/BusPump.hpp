#pragma once
// BusPump: drives an sdbus-c++ connection from fetchmld's sd-event loop
// (decisions.md "Event loops"): an I/O source on the connection's fd, a timer for its
// timeout, and a post source that re-reads getEventLoopPollData() after every loop
// iteration, so messages queued by any handler (signals, replies) are flushed.
// (common/dbus/SdEventBus is meant to replace this once it lands.)

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-event.h>

#include <cstdint>

#include "EventHandles.hpp"

namespace fetchml {

/// Attaches one sdbus connection to one sd-event loop for the pump's lifetime.
class BusPump {
public:
    /// Adds the sources; throws sdbus::Error or std::runtime_error at start-up on failure.
    BusPump(sd_event* loop, sdbus::IConnection& connection);
    BusPump(const BusPump&) = delete;
    BusPump& operator=(const BusPump&) = delete;

private:
    static int onIo(sd_event_source* source, int fd, std::uint32_t revents, void* self);
    static int onTime(sd_event_source* source, std::uint64_t usec, void* self);
    static int onPost(sd_event_source* source, void* self);
    void process();
    void rearm();

    sd_event* loop_;
    sdbus::IConnection& connection_;
    EventSourcePtr io_;
    EventSourcePtr timer_;
    EventSourcePtr post_;
    int fd_ = -1;
};

}  // namespace fetchml
