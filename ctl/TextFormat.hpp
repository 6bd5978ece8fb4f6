#pragma once
// TextFormat: how fetchmlctl writes sizes, counts and times for people (tables and summaries).

#include <cstdint>
#include <string>
#include <vector>

namespace fetchml::ctl {

/// "1.2 MiB"-style size (B, KiB, MiB, GiB, TiB; one decimal above bytes, "512 B" below 1 KiB).
std::string humanBytes(std::uint64_t bytes);

/// "1 file", "3 files": n and noun, with an "s" unless n is 1.
std::string plural(std::uint64_t n, const char* noun);

/// argv as one line a POSIX shell would split back into the same words: a word of only
/// [A-Za-z0-9_@%+=:,./-] (and not empty) as is, any other in single quotes, a ' inside as '\''.
std::string shellWords(const std::vector<std::string>& argv);

/// ms since the epoch as strftime(3) format, in local time or UTC.
std::string formatTime(std::int64_t ms, const char* format, bool local);

/// "2026-11-30 07:18 UTC" for ms since the epoch (UTC, to the minute).
std::string utcMinute(std::int64_t ms);

}  // namespace fetchml::ctl
