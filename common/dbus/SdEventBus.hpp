#pragma once
// SdEventBus: drives an sdbus-c++ connection from an sd-event loop. sdbus-c++ 1.2 has no
// sd-event integration, so this uses its external-loop API (IConnection::getEventLoopPollData
// and processPendingRequest, see sdbus-c++ "Using sdbus-c++ in an external event loop"):
//   - an I/O source on the connection's fd with the events it asks for,
//   - a CLOCK_MONOTONIC time source at its absolute timeout (0 = work is already queued),
//   - a post source that runs after every dispatch of any source on the loop, processes what
//     is pending and re-arms both, so replies and signals sent from other sources (timers,
//     child exits) get POLLOUT when the socket could not take them at once.
// All bus traffic of the connection must come from the loop's thread.

#include <sdbus-c++/IConnection.h>
#include <systemd/sd-event.h>

#include <cstdint>
#include <string>

#include "sys/SdEvent.hpp"

namespace fetchml {

/// Attaches one connection to one loop for the lifetime of this object. Neither the loop nor
/// the connection may be destroyed before it.
class SdEventBus {
public:
    /// Adds the three sources to `loop`. Throws std::system_error if sd-event refuses (a
    /// start-up failure).
    SdEventBus(sd_event* loop, sdbus::IConnection& connection);
    SdEventBus(const SdEventBus&) = delete;
    SdEventBus& operator=(const SdEventBus&) = delete;

    /// Processes everything pending now and re-arms the sources. Only needed by code that
    /// sends on the connection from the loop's thread but outside any loop callback.
    void refresh();

    /// When processing failed (the bus connection broke), the sdbus::Error message; the loop
    /// has then been asked to exit with -ENOTCONN (sd_event_exit(3)). "" while healthy.
    const std::string& failure() const { return failure_; }

private:
    static int onIo(sd_event_source* source, int fd, std::uint32_t revents, void* self);
    static int onTime(sd_event_source* source, std::uint64_t usec, void* self);
    static int onPost(sd_event_source* source, void* self);
    void process();
    void rearm();
    void fail(const std::string& message);

    sd_event* loop_;
    sdbus::IConnection& connection_;
    SdEventSourcePtr io_;
    SdEventSourcePtr timer_;
    SdEventSourcePtr post_;
    int fd_ = -1;
    std::string failure_;
};

}  // namespace fetchml
