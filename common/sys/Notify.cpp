#include "sys/Notify.hpp"

#include <systemd/sd-daemon.h>

namespace fetchml {

void notifyReady(const std::string& status) {
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void notifyStopping() {
    sd_notify(0, "STOPPING=1");
}

void notifyStatus(const std::string& status) {
    sd_notifyf(0, "STATUS=%s", status.c_str());
}

void notifyWatchdog() {
    sd_notify(0, "WATCHDOG=1");
}

std::uint64_t watchdogIntervalUsec() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) {
        return usec;
    }
    return 0;
}

}  // namespace fetchml
