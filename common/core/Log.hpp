#pragma once
// Logging: spdlog behind one small API. One named logger per component ("sched.dispatch",
// "edge.tls"). Under systemd (JOURNAL_STREAM set, or target "journal") lines go to journald
// with structured fields; otherwise to stderr. Library code in common/ logs at debug only.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "core/Settings.hpp"

namespace fetchml {

/// Sets up the default sink and level for a program (e.g. "fetchmld"). Safe to call again
/// (SIGHUP) to change the level. Unknown levels fall back to "info".
void setupLogging(const LogSettings& settings, const std::string& program);

/// The logger for a component; created on first use with the program's sinks.
std::shared_ptr<spdlog::logger> logger(const std::string& component);

/// True when setupLogging chose journald (JOURNAL_STREAM set, or target "journal").
bool logsToJournal();

}  // namespace fetchml
