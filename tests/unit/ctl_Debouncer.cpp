// When `fetchmlctl watch` syncs (Debouncer.hpp): after a quiet time, at the latest after the
// longest delay, and again after a failure. Times are given, not read from a clock.

#include <catch2/catch.hpp>

#include "Debouncer.hpp"

using fetchml::ctl::Debouncer;

TEST_CASE("a burst of changes is due once the tree has been quiet", "[ctl][watch]") {
    Debouncer d(500, 10000);
    CHECK_FALSE(d.pending());
    CHECK(d.timeoutMs(0) == -1);  // nothing to wait for
    CHECK_FALSE(d.due(1000000));

    d.change(1000);
    CHECK(d.pending());
    CHECK(d.timeoutMs(1000) == 500);
    d.change(1200);  // each change restarts the quiet time
    d.change(1400);
    CHECK_FALSE(d.due(1899));
    CHECK(d.timeoutMs(1600) == 300);
    CHECK(d.due(1900));
    CHECK(d.timeoutMs(2500) == 0);

    d.clear();  // the sync starts
    CHECK_FALSE(d.pending());
    CHECK_FALSE(d.due(5000));
}

TEST_CASE("a tree that never rests is synced after the longest delay", "[ctl][watch]") {
    Debouncer d(500, 2000);
    for (std::int64_t t = 0; t <= 1900; t += 100) {
        d.change(t);
        CHECK_FALSE(d.due(t));
    }
    CHECK(d.timeoutMs(1900) == 100);
    d.change(2000);
    CHECK(d.due(2000));  // 2000 ms after the first change, however busy
    d.clear();
    d.change(2100);
    CHECK(d.timeoutMs(2100) == 500);
}

TEST_CASE("a failed sync is tried again, sooner when something changes", "[ctl][watch]") {
    Debouncer d(500, 10000);
    d.retry(0, 5000);
    CHECK(d.pending());
    CHECK(d.timeoutMs(1000) == 4000);
    CHECK(d.due(5000));
    d.change(1000);
    CHECK(d.due(1500));
    d.clear();
    CHECK_FALSE(d.pending());
}

TEST_CASE("a zero quiet time syncs at once; the longest delay is at least the quiet time",
          "[ctl][watch]") {
    Debouncer now(0, 0);
    now.change(7);
    CHECK(now.due(7));
    Debouncer d(800, 100);
    d.change(0);
    CHECK_FALSE(d.due(799));
    CHECK(d.due(800));
}
