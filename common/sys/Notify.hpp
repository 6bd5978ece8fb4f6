#pragma once
// sd_notify(3) wrappers. All are no-ops when NOTIFY_SOCKET is unset (not under systemd).

#include <cstdint>
#include <string>

namespace fetchml {

/// Sends READY=1 with a STATUS= line.
void notifyReady(const std::string& status);
/// Sends STOPPING=1.
void notifyStopping();
/// Sends STATUS=<text>.
void notifyStatus(const std::string& status);
/// Sends WATCHDOG=1.
void notifyWatchdog();
/// The watchdog interval from WATCHDOG_USEC (sd_watchdog_enabled(3)), in microseconds;
/// 0 when the watchdog is off.
std::uint64_t watchdogIntervalUsec();

}  // namespace fetchml
