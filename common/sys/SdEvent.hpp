#pragma once
// RAII owners for sd-event handles (sd-event(3)).

#include <systemd/sd-event.h>

#include <memory>

namespace fetchml {

/// Drops one reference to an sd_event loop (sd_event_unref(3)).
struct SdEventDeleter {
    void operator()(sd_event* e) const { sd_event_unref(e); }
};
/// Owning pointer to an sd_event loop.
using SdEventPtr = std::unique_ptr<sd_event, SdEventDeleter>;

/// Disables and drops an event source (sd_event_source_disable_unref(3)), so its callback
/// can never run once the owner is gone.
struct SdEventSourceDeleter {
    void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
/// Owning pointer to an event source.
using SdEventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceDeleter>;

}  // namespace fetchml
