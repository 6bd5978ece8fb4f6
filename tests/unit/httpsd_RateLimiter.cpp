#include <catch2/catch.hpp>

#include "fetchml-httpsd/RateLimiter.hpp"

using namespace fetchml::edge;
using namespace std::chrono_literals;

namespace {

/// A clock the test moves by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
    RateLimiter::Clock fn() {
        return [this] { return now; };
    }
};

const std::string kKeyA = "fml_0123456789ab_" + std::string(43, 'x');
const std::string kKeyB = "fml_ba9876543210_" + std::string(43, 'y');

}  // namespace

TEST_CASE("RateLimiter: key id of an API key", "[httpsd][ratelimit]") {
    CHECK(RateLimiter::keyId(kKeyA) == "0123456789ab");
    CHECK(RateLimiter::keyId("fml_abc_secret_with_underscores") == "abc");
    CHECK(RateLimiter::keyId("") == "");
    CHECK(RateLimiter::keyId("fml_nosecret") == "");
    CHECK(RateLimiter::keyId("fml__secret") == "");
    CHECK(RateLimiter::keyId("Bearer fml_a_b") == "");
}

TEST_CASE("RateLimiter: per address, refill and Retry-After", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({5, 5}, clock.fn());
    for (int i = 0; i < 5; ++i) {
        CHECK(limiter.admit("192.0.2.1", "") == 0);
    }
    // One token comes back every 12 s at 5 a minute.
    CHECK(limiter.admit("192.0.2.1", "") == 12);
    CHECK(limiter.admit("192.0.2.2", "") == 0);  // another address has its own bucket
    clock.now += 5s;
    CHECK(limiter.admit("192.0.2.1", "") == 7);
    clock.now += 7s;
    CHECK(limiter.admit("192.0.2.1", "") == 0);
    CHECK(limiter.admit("192.0.2.1", "") == 12);
    // The bucket never holds more than one minute's worth.
    clock.now += 1h;
    for (int i = 0; i < 5; ++i) {
        CHECK(limiter.admit("192.0.2.1", "") == 0);
    }
    CHECK(limiter.admit("192.0.2.1", "") > 0);
}

TEST_CASE("RateLimiter: per API key across addresses", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({3, 5}, clock.fn());
    CHECK(limiter.admit("192.0.2.1", kKeyA) == 0);
    CHECK(limiter.admit("192.0.2.2", kKeyA) == 0);
    CHECK(limiter.admit("192.0.2.3", kKeyA) == 0);
    CHECK(limiter.admit("192.0.2.4", kKeyA) == 20);
    // A refusal takes no token: the address and another key are still fine.
    CHECK(limiter.admit("192.0.2.4", kKeyB) == 0);
    // The same key id with another secret is the same bucket.
    CHECK(limiter.admit("192.0.2.5", "fml_0123456789ab_other") == 20);
}

TEST_CASE("RateLimiter: authentication failures have their own budget", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({30, 2}, clock.fn());
    CHECK(limiter.admit("192.0.2.1", "fml_bad_key") == 0);
    limiter.recordAuthFailure("192.0.2.1");
    CHECK(limiter.admit("192.0.2.1", "fml_bad_key") == 0);
    limiter.recordAuthFailure("192.0.2.1");
    // Two failures at 2 a minute: 30 s until one is back.
    CHECK(limiter.admit("192.0.2.1", kKeyA) == 30);
    CHECK(limiter.admit("192.0.2.9", kKeyA) == 0);
    clock.now += 30s;
    CHECK(limiter.admit("192.0.2.1", kKeyA) == 0);
}

TEST_CASE("RateLimiter: zero means unlimited", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({0, 0}, clock.fn());
    for (int i = 0; i < 1000; ++i) {
        limiter.recordAuthFailure("192.0.2.1");
        REQUIRE(limiter.admit("192.0.2.1", kKeyA) == 0);
    }
    CHECK(limiter.bucketCount() == 0);
}

TEST_CASE("RateLimiter: full buckets are swept", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({60, 5}, clock.fn());
    for (int i = 0; i < 100; ++i) {
        limiter.admit("10.0.0." + std::to_string(i), kKeyA);
    }
    // 100 address buckets, 100 auth-failure buckets, 1 key bucket.
    CHECK(limiter.bucketCount() == 201);
    clock.now += 30s;
    limiter.sweep();
    // The addresses used one token each and got it back within a second; the key is still short.
    CHECK(limiter.bucketCount() == 1);
    clock.now += 60s;
    limiter.sweep();
    CHECK(limiter.bucketCount() == 0);
    // admit() sweeps by itself once a minute.
    for (int i = 0; i < 50; ++i) {
        limiter.admit("10.1.0." + std::to_string(i), "");
    }
    CHECK(limiter.bucketCount() == 100);
    clock.now += 61s;
    limiter.admit("10.2.0.1", "");
    CHECK(limiter.bucketCount() == 2);
}

TEST_CASE("RateLimiter: a role's own limit for a key, for 5 minutes", "[httpsd][ratelimit]") {
    FakeClock clock;
    RateLimiter limiter({3, 5}, clock.fn());
    CHECK_FALSE(limiter.knowsKeyLimit(kKeyA));
    limiter.setKeyLimit(RateLimiter::keyId(kKeyA), 6);
    CHECK(limiter.knowsKeyLimit(kKeyA));
    CHECK_FALSE(limiter.knowsKeyLimit(kKeyB));
    // Six a minute for this key, and for its address while it uses it.
    for (int i = 0; i < 6; ++i) {
        CHECK(limiter.admit("192.0.2.1", kKeyA) == 0);
    }
    CHECK(limiter.admit("192.0.2.1", kKeyA) == 10);
    // Another key at the default (3 a minute), from another address.
    for (int i = 0; i < 3; ++i) {
        CHECK(limiter.admit("192.0.2.2", kKeyB) == 0);
    }
    CHECK(limiter.admit("192.0.2.2", kKeyB) == 20);
    // A smaller role limit shrinks the key's bucket.
    limiter.setKeyLimit(RateLimiter::keyId(kKeyB), 1);
    clock.now += std::chrono::seconds(60);
    CHECK(limiter.admit("192.0.2.3", kKeyB) == 0);
    CHECK(limiter.admit("192.0.2.3", kKeyB) == 60);
    // The learnt limit lapses after 5 minutes: asked for again, the default meanwhile.
    clock.now += std::chrono::minutes(5);
    CHECK_FALSE(limiter.knowsKeyLimit(kKeyB));
    CHECK(limiter.admit("192.0.2.3", kKeyB) == 0);
    CHECK(limiter.admit("192.0.2.3", kKeyB) == 0);
}
