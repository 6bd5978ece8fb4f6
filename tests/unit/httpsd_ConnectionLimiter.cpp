#include <catch2/catch.hpp>

#include <filesystem>

#include "core/Config.hpp"
#include "fetchml-httpsd/ConnectionLimiter.hpp"

using namespace fetchml;
using namespace fetchml::edge;
using namespace std::chrono_literals;
using Refusal = ConnectionLimiter::Refusal;

namespace {

/// A clock the test moves by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
    ConnectionLimiter::Clock fn() {
        return [this] { return now; };
    }
};

}  // namespace

TEST_CASE("ConnectionLimiter: per-address cap, others unaffected, release", "[httpsd][connlimit]") {
    FakeClock clock;
    ConnectionLimiter limiter({10, 3}, 60s, clock.fn());
    for (std::uint32_t i = 1; i <= 3; ++i) {
        auto a = limiter.admit("192.0.2.1");
        CHECK(a.refusal == Refusal::None);
        CHECK_FALSE(a.log);
        CHECK(a.open == i);
    }
    auto refused = limiter.admit("192.0.2.1");
    CHECK(refused.refusal == Refusal::PerAddress);
    CHECK(refused.log);
    CHECK(refused.suppressed == 0);
    CHECK(refused.open == 3);
    CHECK(limiter.total() == 3);  // a refusal is not counted
    CHECK(limiter.admit("192.0.2.2").refusal == Refusal::None);
    CHECK(limiter.total() == 4);
    // One closes: the address may open one more.
    limiter.release("192.0.2.1");
    CHECK(limiter.open("192.0.2.1") == 2);
    CHECK(limiter.admit("192.0.2.1").refusal == Refusal::None);
    // Releasing everything leaves no entry behind; an unknown address is ignored.
    for (int i = 0; i < 3; ++i) {
        limiter.release("192.0.2.1");
    }
    limiter.release("192.0.2.2");
    limiter.release("192.0.2.9");
    CHECK(limiter.total() == 0);
    CHECK(limiter.open("192.0.2.1") == 0);
}

TEST_CASE("ConnectionLimiter: total cap", "[httpsd][connlimit]") {
    FakeClock clock;
    ConnectionLimiter limiter({4, 3}, 60s, clock.fn());
    CHECK(limiter.admit("a").refusal == Refusal::None);
    CHECK(limiter.admit("a").refusal == Refusal::None);
    CHECK(limiter.admit("b").refusal == Refusal::None);
    CHECK(limiter.admit("c").refusal == Refusal::None);
    auto refused = limiter.admit("d");
    CHECK(refused.refusal == Refusal::Total);
    CHECK(refused.open == 0);
    limiter.release("b");
    CHECK(limiter.admit("d").refusal == Refusal::None);
}

TEST_CASE("ConnectionLimiter: 0 means unlimited", "[httpsd][connlimit]") {
    ConnectionLimiter limiter({0, 0});
    for (int i = 0; i < 10000; ++i) {
        REQUIRE(limiter.admit("192.0.2.1").refusal == Refusal::None);
    }
    CHECK(limiter.total() == 10000);
}

TEST_CASE("ConnectionLimiter: refusals are logged once per address per interval",
          "[httpsd][connlimit]") {
    FakeClock clock;
    ConnectionLimiter limiter({100, 1}, 60s, clock.fn());
    REQUIRE(limiter.admit("a").refusal == Refusal::None);
    REQUIRE(limiter.admit("b").refusal == Refusal::None);
    CHECK(limiter.admit("a").log);
    int logged = 0;
    for (int i = 0; i < 50; ++i) {
        clock.now += 1s;
        logged += limiter.admit("a").log ? 1 : 0;
    }
    CHECK(logged == 0);
    // Another address has its own report.
    CHECK(limiter.admit("b").log);
    // A minute after the first report, the next refusal is logged with the count in between.
    clock.now += 10s;
    auto next = limiter.admit("a");
    CHECK(next.log);
    CHECK(next.suppressed == 50);
    auto after = limiter.admit("a");
    CHECK_FALSE(after.log);
}

TEST_CASE("ConnectionLimiter: reports of addresses that went quiet are dropped",
          "[httpsd][connlimit]") {
    FakeClock clock;
    ConnectionLimiter limiter({1, 1}, 60s, clock.fn());
    REQUIRE(limiter.admit("holder").refusal == Refusal::None);
    for (int i = 0; i < 1000; ++i) {
        limiter.admit("198.51.100." + std::to_string(i));
    }
    CHECK(limiter.reportCount() == 1000);
    // Two intervals later, the next refusal's sweep forgets them all.
    clock.now += 121s;
    CHECK(limiter.admit("new").log);
    CHECK(limiter.reportCount() == 1);
}

TEST_CASE("https limits: configuration keys and the documented defaults", "[httpsd][connlimit]") {
    LoadOptions o;
    o.path = (std::filesystem::path(FETCHML_SOURCE_DIR) / "configs" / "fetchml.yaml").string();
    o.mustExist = true;
    o.readEnvironment = false;
    auto shipped = loadSettings(o);
    REQUIRE(shipped.ok());
    const HttpsSettings d;
    const HttpsSettings& s = shipped->https;
    CHECK(d.maxConnections == 512);
    CHECK(d.maxConnectionsPerAddress == 64);
    CHECK(s.maxConnections == d.maxConnections);
    CHECK(s.maxConnectionsPerAddress == d.maxConnectionsPerAddress);
    CHECK(s.maxJsonBytes == d.maxJsonBytes);
    CHECK(s.maxHeaderBytes == d.maxHeaderBytes);
    CHECK(s.headerTimeoutS == d.headerTimeoutS);
    CHECK(s.idleTimeoutS == d.idleTimeoutS);
    CHECK(s.readTimeoutS == d.readTimeoutS);
    CHECK(d.headerTimeoutS < d.idleTimeoutS);

    LoadOptions set;
    set.path = "/nonexistent/fetchml-unit-test.yaml";
    set.readEnvironment = false;
    set.overrides = {"https.max_connections=7", "https.max_connections_per_address=2",
                     "https.header_timeout_s=3", "https.max_json_bytes=1048576"};
    auto r = loadSettings(set);
    REQUIRE(r.ok());
    CHECK(r->https.maxConnections == 7);
    CHECK(r->https.maxConnectionsPerAddress == 2);
    CHECK(r->https.headerTimeoutS == 3);
    CHECK(r->https.maxJsonBytes == 1048576);
}
