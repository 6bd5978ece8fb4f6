#pragma once
// RateLimiter: token buckets (each holds up to N tokens and gains N per minute, one request
// costs one) for fetchml-httpsd. Requests are limited per API key id and per client address
// (https.rate_limit_per_minute); requests answered 401 have their own, stricter bucket per
// address (https.auth_failures_per_minute). Only the key id of `fml_<key id>_<secret>`
// (docs/architecture/decisions.md, key format) is kept; the secret is never stored. Full
// buckets are dropped by a sweep at most once a minute, so the maps stay as small as the set
// of recently active clients. Thread-safe (one mutex). Pure: the clock is injected.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fetchml::edge {

/// Budgets, in requests per minute; 0 = unlimited.
struct RateLimits {
    std::uint32_t perMinute = 30;             ///< per key id and per address
    std::uint32_t authFailuresPerMinute = 5;  ///< 401 answers per address
};

/// The token buckets of one server.
class RateLimiter {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    /// `clock` defaults to std::chrono::steady_clock::now.
    explicit RateLimiter(RateLimits limits, Clock clock = &std::chrono::steady_clock::now);

    /// Admits one request from `address` (textual peer address, no port) carrying `apiKey`
    /// (the full bearer token or ""; only its key id is used). Returns 0 and takes a token
    /// from each bucket when allowed; otherwise takes nothing and returns the seconds (>= 1)
    /// until a retry can succeed, for Retry-After (RFC 9110 section 10.2.3). Also refuses
    /// while the address has used up its authentication-failure budget.
    std::uint32_t admit(const std::string& address, std::string_view apiKey);

    /// The limit of a key's role (permissions.yaml rate_limit_per_minute, from fetchmld's
    /// Hello; 0 = the default) for the next 5 minutes; after that it is asked for again, so a
    /// changed role or file takes effect. Requests with that key then draw from a bucket of
    /// that size, and their address's bucket is at least that large.
    void setKeyLimit(std::string_view keyId, std::uint32_t perMinute);
    /// True while a limit learnt with setKeyLimit for apiKey's key id is in force.
    bool knowsKeyLimit(std::string_view apiKey) const;

    /// Records one request from `address` answered 401 (takes one auth-failure token).
    void recordAuthFailure(const std::string& address);

    /// Drops every bucket that has refilled completely (it holds no information).
    void sweep();

    /// Number of buckets held (all kinds), for tests and diagnostics.
    std::size_t bucketCount() const;

    /// The key id of `fml_<key id>_<secret>`, or "" when `apiKey` is not of that shape.
    static std::string keyId(std::string_view apiKey);

private:
    /// Tokens in exact integer units: one token is 60'000'000 units (microseconds in a
    /// minute), and a bucket gains `perMinute` units each microsecond.
    struct Bucket {
        std::int64_t units = 0;
        std::chrono::steady_clock::time_point updated;
    };
    using Map = std::unordered_map<std::string, Bucket>;

    /// The bucket of `id` in `map`, refilled to now (a new one starts full).
    Bucket& refill(Map& map, const std::string& id, std::uint32_t perMinute,
                   std::chrono::steady_clock::time_point now);
    /// Seconds until `bucket` holds one token at `perMinute`.
    static std::uint32_t waitSeconds(const Bucket& bucket, std::uint32_t perMinute);
    void sweepLocked(std::chrono::steady_clock::time_point now);

    /// A role's limit for one key id, and until when it is trusted.
    struct KeyLimit {
        std::uint32_t perMinute = 0;
        std::chrono::steady_clock::time_point until;
    };
    static constexpr std::chrono::minutes kKeyLimitTtl{5};
    std::uint32_t keyLimitLocked(const std::string& id,
                                 std::chrono::steady_clock::time_point now) const;

    RateLimits limits_;
    Clock clock_;
    mutable std::mutex mutex_;
    Map byKey_;
    Map byAddress_;
    Map authFailures_;
    std::unordered_map<std::string, KeyLimit> keyLimits_;
    std::chrono::steady_clock::time_point lastSweep_;
};

}  // namespace fetchml::edge
