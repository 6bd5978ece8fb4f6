#pragma once
// Durations on the command line: a whole number and a unit, "90d", "12h", "30m", "45s",
// "2w" (as in systemd.time(7), without combinations).

#include <cstdint>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// The duration in milliseconds. Errors: InvalidArgument "<flag>: expected a number and a unit
/// s, m, h, d or w (e.g. 90d), got '<text>'", also for zero and for more than 100 years.
Result<std::int64_t> parseDurationMs(std::string_view text, std::string_view flag);

}  // namespace fetchml::ctl
