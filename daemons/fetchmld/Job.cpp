#include "Job.hpp"

#include <charconv>
#include <cstdio>

namespace fetchml {

std::string jobIdFromSeq(std::int64_t seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "j%06lld", static_cast<long long>(seq));
    return buf;
}

std::int64_t seqFromJobId(const std::string& id) {
    if (id.size() < 2 || id.size() > 20 || id[0] != 'j') {
        return 0;
    }
    std::int64_t seq = 0;
    const char* begin = id.data() + 1;
    const char* end = id.data() + id.size();
    auto [ptr, ec] = std::from_chars(begin, end, seq);
    if (ec != std::errc() || ptr != end || seq <= 0 || jobIdFromSeq(seq) != id) {
        return 0;
    }
    return seq;
}

}  // namespace fetchml
