#include "SubIdPolicy.hpp"

#include <charconv>

namespace fetchml {

namespace {

bool parseU32(std::string_view text, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::vector<SubIdRange> subIdRangesFor(std::string_view fileText, const std::string& userName,
                                       std::uint32_t id) {
    std::vector<SubIdRange> ranges;
    const std::string idText = std::to_string(id);
    std::size_t pos = 0;
    while (pos < fileText.size()) {
        auto end = fileText.find('\n', pos);
        if (end == std::string_view::npos) {
            end = fileText.size();
        }
        std::string_view line = fileText.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty() || line.front() == '#') {
            continue;
        }
        auto c1 = line.find(':');
        auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos || line.find(':', c2 + 1) != std::string_view::npos) {
            continue;
        }
        std::string_view owner = line.substr(0, c1);
        if (owner != idText && (userName.empty() || owner != userName)) {
            continue;
        }
        SubIdRange r;
        if (!parseU32(line.substr(c1 + 1, c2 - c1 - 1), r.start) ||
            !parseU32(line.substr(c2 + 1), r.count) || r.count == 0) {
            continue;
        }
        ranges.push_back(r);
    }
    return ranges;
}

Result<void> checkIdMappings(const std::vector<IdMapping>& mappings, std::uint32_t ownId,
                             const std::vector<SubIdRange>& ranges, const std::string& file) {
    for (std::size_t i = 0; i < mappings.size(); ++i) {
        const auto& m = mappings[i];
        if (m.outside == ownId && m.count == 1) {
            continue;
        }
        bool allowed = false;
        for (const auto& r : ranges) {
            if (m.outside >= r.start &&
                std::uint64_t{m.outside} + m.count <= std::uint64_t{r.start} + r.count) {
                allowed = true;
                break;
            }
        }
        if (!allowed) {
            return makeError(ErrorCode::PermissionDenied,
                             "mapping " + std::to_string(i + 1) + " (" + std::to_string(m.inside) +
                                 " " + std::to_string(m.outside) + " " + std::to_string(m.count) +
                                 "): outside ids " + std::to_string(m.outside) + "-" +
                                 std::to_string(std::uint64_t{m.outside} + m.count - 1) +
                                 " are neither the caller's own id nor in one of its ranges in " +
                                 file);
        }
    }
    return {};
}

}  // namespace fetchml
