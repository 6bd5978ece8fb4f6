#include "Duration.hpp"

#include <charconv>
#include <string>

namespace fetchml::ctl {

Result<std::int64_t> parseDurationMs(std::string_view text, std::string_view flag) {
    auto bad = [&] {
        return makeError(ErrorCode::InvalidArgument,
                         std::string(flag) +
                             ": expected a number and a unit s, m, h, d or w (e.g. 90d), got '" +
                             std::string(text.substr(0, 40)) + "'");
    };
    if (text.size() < 2) {
        return bad();
    }
    std::int64_t unitMs = 0;
    switch (text.back()) {
        case 's':
            unitMs = 1000;
            break;
        case 'm':
            unitMs = 60'000;
            break;
        case 'h':
            unitMs = 3'600'000;
            break;
        case 'd':
            unitMs = 86'400'000;
            break;
        case 'w':
            unitMs = 7 * 86'400'000LL;
            break;
        default:
            return bad();
    }
    std::string_view digits = text.substr(0, text.size() - 1);
    std::int64_t count = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    constexpr std::int64_t kMaxMs = 100LL * 366 * 86'400'000LL;
    if (ec != std::errc{} || end != digits.data() + digits.size() || count <= 0 ||
        count > kMaxMs / unitMs) {
        return bad();
    }
    return count * unitMs;
}

}  // namespace fetchml::ctl
