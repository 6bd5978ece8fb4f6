#include "RateLimiter.hpp"

#include <algorithm>

namespace fetchml::edge {
namespace {

constexpr std::chrono::seconds kSweepEvery{60};
constexpr std::int64_t kToken = 60'000'000;  // units of one token

std::int64_t capacity(std::uint32_t perMinute) {
    return static_cast<std::int64_t>(perMinute) * kToken;
}

}  // namespace

RateLimiter::RateLimiter(RateLimits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)), lastSweep_(clock_()) {}

std::string RateLimiter::keyId(std::string_view apiKey) {
    constexpr std::string_view prefix = "fml_";
    if (apiKey.substr(0, prefix.size()) != prefix) {
        return "";
    }
    auto rest = apiKey.substr(prefix.size());
    auto underscore = rest.find('_');
    if (underscore == std::string_view::npos || underscore == 0) {
        return "";
    }
    return std::string(rest.substr(0, underscore));
}

RateLimiter::Bucket& RateLimiter::refill(Map& map, const std::string& id, std::uint32_t perMinute,
                                         std::chrono::steady_clock::time_point now) {
    auto [it, added] = map.try_emplace(id, Bucket{capacity(perMinute), now});
    Bucket& bucket = it->second;
    if (!added && now > bucket.updated) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - bucket.updated);
        // Clamp the elapsed time first so that the product cannot overflow.
        std::int64_t elapsed = std::min<std::int64_t>(us.count(), kToken);
        bucket.units = std::min(capacity(perMinute), bucket.units + elapsed * perMinute);
        bucket.updated = now;
    }
    return bucket;
}

std::uint32_t RateLimiter::waitSeconds(const Bucket& bucket, std::uint32_t perMinute) {
    std::int64_t missing = kToken - bucket.units;
    if (missing <= 0) {
        return 0;
    }
    std::int64_t us = (missing + perMinute - 1) / perMinute;
    return static_cast<std::uint32_t>(std::max<std::int64_t>(1, (us + 999'999) / 1'000'000));
}

std::uint32_t RateLimiter::admit(const std::string& address, std::string_view apiKey) {
    std::lock_guard lock(mutex_);
    auto now = clock_();
    if (now - lastSweep_ >= kSweepEvery) {
        sweepLocked(now);
    }
    std::uint32_t wait = 0;
    Bucket* failures = nullptr;
    if (limits_.authFailuresPerMinute > 0) {
        failures = &refill(authFailures_, address, limits_.authFailuresPerMinute, now);
        wait = std::max(wait, waitSeconds(*failures, limits_.authFailuresPerMinute));
    }
    if (limits_.perMinute == 0) {
        return wait;
    }
    // A key whose role has its own limit (learnt from fetchmld) may use it, and so may its
    // address: a role limit above the default also raises the address's budget for it.
    std::string id = keyId(apiKey);
    std::uint32_t keyLimit = id.empty() ? limits_.perMinute : keyLimitLocked(id, now);
    std::uint32_t addressLimit = std::max(limits_.perMinute, keyLimit);
    Bucket& byAddress = refill(byAddress_, address, addressLimit, now);
    wait = std::max(wait, waitSeconds(byAddress, addressLimit));
    Bucket* byKey = nullptr;
    if (!id.empty()) {
        byKey = &refill(byKey_, id, keyLimit, now);
        wait = std::max(wait, waitSeconds(*byKey, keyLimit));
    }
    if (wait > 0) {
        return wait;
    }
    byAddress.units -= kToken;
    if (byKey != nullptr) {
        byKey->units -= kToken;
    }
    return 0;
}

void RateLimiter::recordAuthFailure(const std::string& address) {
    if (limits_.authFailuresPerMinute == 0) {
        return;
    }
    std::lock_guard lock(mutex_);
    Bucket& bucket = refill(authFailures_, address, limits_.authFailuresPerMinute, clock_());
    bucket.units = std::max<std::int64_t>(0, bucket.units - kToken);
}

void RateLimiter::sweep() {
    std::lock_guard lock(mutex_);
    sweepLocked(clock_());
}

void RateLimiter::setKeyLimit(std::string_view keyIdText, std::uint32_t perMinute) {
    std::lock_guard lock(mutex_);
    keyLimits_[std::string(keyIdText)] = KeyLimit{perMinute, clock_() + kKeyLimitTtl};
}

bool RateLimiter::knowsKeyLimit(std::string_view apiKey) const {
    std::string id = keyId(apiKey);
    std::lock_guard lock(mutex_);
    auto it = keyLimits_.find(id);
    return !id.empty() && it != keyLimits_.end() && it->second.until > clock_();
}

std::uint32_t RateLimiter::keyLimitLocked(const std::string& id,
                                          std::chrono::steady_clock::time_point now) const {
    auto it = keyLimits_.find(id);
    if (it == keyLimits_.end() || it->second.until <= now || it->second.perMinute == 0) {
        return limits_.perMinute;
    }
    return it->second.perMinute;
}

void RateLimiter::sweepLocked(std::chrono::steady_clock::time_point now) {
    for (auto it = keyLimits_.begin(); it != keyLimits_.end();) {
        it = it->second.until <= now ? keyLimits_.erase(it) : std::next(it);
    }
    for (auto it = byKey_.begin(); it != byKey_.end();) {
        std::uint32_t limit = keyLimitLocked(it->first, now);
        Bucket& bucket = refill(byKey_, it->first, limit, now);
        it = bucket.units >= capacity(limit) ? byKey_.erase(it) : std::next(it);
    }
    auto drop = [&](Map& map, std::uint32_t perMinute) {
        for (auto it = map.begin(); it != map.end();) {
            Bucket& bucket = refill(map, it->first, perMinute, now);
            it = bucket.units >= capacity(perMinute) ? map.erase(it) : std::next(it);
        }
    };
    drop(byAddress_, limits_.perMinute);
    drop(authFailures_, limits_.authFailuresPerMinute);
    lastSweep_ = now;
}

std::size_t RateLimiter::bucketCount() const {
    std::lock_guard lock(mutex_);
    return byKey_.size() + byAddress_.size() + authFailures_.size();
}

}  // namespace fetchml::edge
