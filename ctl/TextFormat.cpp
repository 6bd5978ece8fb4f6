#include "TextFormat.hpp"

#include <cstdio>
#include <ctime>
#include <iterator>

namespace fetchml::ctl {

std::string humanBytes(std::uint64_t bytes) {
    static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    double value = static_cast<double>(bytes) / 1024.0;
    std::size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(units)) {
        value /= 1024.0;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

std::string plural(std::uint64_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string shellWords(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& word : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        const bool plain = !word.empty() && word.find_first_not_of(
                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                                                "vwxyz0123456789_@%+=:,./-") == std::string::npos;
        if (plain) {
            out += word;
            continue;
        }
        out += '\'';
        for (char c : word) {
            out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        out += '\'';
    }
    return out;
}

std::string formatTime(std::int64_t ms, const char* format, bool local) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    local ? localtime_r(&seconds, &tm) : gmtime_r(&seconds, &tm);
    char text[64];
    std::strftime(text, sizeof text, format, &tm);
    return text;
}

std::string utcMinute(std::int64_t ms) {
    return formatTime(ms, "%Y-%m-%d %H:%M UTC", false);
}

}  // namespace fetchml::ctl
