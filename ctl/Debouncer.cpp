#include "Debouncer.hpp"

#include <algorithm>
#include <climits>

namespace fetchml::ctl {

Debouncer::Debouncer(std::int64_t quietMs, std::int64_t maxDelayMs)
    : quietMs_(std::max<std::int64_t>(quietMs, 0)), maxDelayMs_(std::max(maxDelayMs, quietMs_)) {}

void Debouncer::change(std::int64_t nowMs) {
    if (!first_) {
        first_ = nowMs;
    }
    last_ = nowMs;
}

void Debouncer::retry(std::int64_t nowMs, std::int64_t afterMs) {
    retryAt_ = nowMs + afterMs;
}

void Debouncer::clear() {
    first_.reset();
    retryAt_.reset();
}

std::optional<std::int64_t> Debouncer::dueAt() const {
    std::optional<std::int64_t> at = retryAt_;
    if (first_) {
        const std::int64_t changes = std::min(last_ + quietMs_, *first_ + maxDelayMs_);
        at = at ? std::min(*at, changes) : changes;
    }
    return at;
}

bool Debouncer::due(std::int64_t nowMs) const {
    auto at = dueAt();
    return at && nowMs >= *at;
}

int Debouncer::timeoutMs(std::int64_t nowMs) const {
    auto at = dueAt();
    if (!at) {
        return -1;
    }
    return static_cast<int>(std::clamp<std::int64_t>(*at - nowMs, 0, INT_MAX));
}

}  // namespace fetchml::ctl
