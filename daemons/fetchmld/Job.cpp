#include "Job.hpp"

#include <charconv>
#include <cstdio>

namespace fetchml {

namespace {

std::string idFromSeq(char prefix, std::int64_t seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%c%06lld", prefix, static_cast<long long>(seq));
    return buf;
}

std::int64_t seqFromId(char prefix, const std::string& id) {
    if (id.size() < 2 || id.size() > 20 || id[0] != prefix) {
        return 0;
    }
    std::int64_t seq = 0;
    const char* begin = id.data() + 1;
    const char* end = id.data() + id.size();
    auto [ptr, ec] = std::from_chars(begin, end, seq);
    if (ec != std::errc() || ptr != end || seq <= 0 || idFromSeq(prefix, seq) != id) {
        return 0;
    }
    return seq;
}

}  // namespace

std::string jobIdFromSeq(std::int64_t seq) {
    return idFromSeq('j', seq);
}

std::int64_t seqFromJobId(const std::string& id) {
    return seqFromId('j', id);
}

std::string sweepIdFromSeq(std::int64_t seq) {
    return seq == 0 ? std::string() : idFromSeq('s', seq);
}

std::int64_t seqFromSweepId(const std::string& id) {
    return seqFromId('s', id);
}

}  // namespace fetchml
