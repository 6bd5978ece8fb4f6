#include "MemorySize.hpp"

#include <charconv>
#include <string>
#include <utility>

namespace fetchml::ctl {

Result<std::uint64_t> parseMemoryMib(std::string_view text, std::string_view flag) {
    auto bad = [&] {
        return makeError(ErrorCode::InvalidArgument,
                         std::string(flag) +
                             ": expected MiB or a number with M, G or T (e.g. 16G), got '" +
                             std::string(text.substr(0, 40)) + "'");
    };
    std::string_view digits = text;
    std::uint64_t unitMib = 1;
    constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
        {"MiB", 1},         {"GiB", 1024}, {"TiB", 1024 * 1024}, {"M", 1},          {"G", 1024},
        {"T", 1024 * 1024}, {"m", 1},      {"g", 1024},          {"t", 1024 * 1024}};
    for (const auto& [suffix, mib] : kUnits) {
        if (digits.size() > suffix.size() && digits.ends_with(suffix)) {
            digits.remove_suffix(suffix.size());
            unitMib = mib;
            break;
        }
    }
    std::uint64_t count = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    constexpr std::uint64_t kMaxMib = 64ull << 20;
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || count == 0 ||
        count > kMaxMib / unitMib) {
        return bad();
    }
    return count * unitMib;
}

}  // namespace fetchml::ctl
