// Unit tests of fetchmld's Placement: first fit in queue order over slots, CPUs, memory and
// GPU devices, EASY backfill behind a reserved start, the per-user limit.
#include <catch2/catch.hpp>

#include "Placement.hpp"

using namespace fetchml;

namespace {

constexpr std::int64_t kNow = 1'000'000;
constexpr std::int64_t kHour = 3'600'000;

ResourceRequest job(const std::string& id, double cpus, std::uint32_t gpus = 0,
                    std::int64_t runtimeMs = kHour, const std::string& user = "alice",
                    std::uint64_t memoryMib = 0) {
    return {id, user, cpus, memoryMib, gpus, runtimeMs};
}

std::vector<std::string> ids(const std::vector<Start>& starts) {
    std::vector<std::string> out;
    for (const auto& s : starts) {
        out.push_back(s.id);
    }
    return out;
}

}  // namespace

TEST_CASE("jobs start in queue order while they fit", "[fetchmld][placement]") {
    Placement p({8, 4, 8192, {}}, {}, 0, kNow);
    auto starts = p.plan({job("a", 2), job("b", 1), job("c", 1), job("d", 1)});
    CHECK(ids(starts) == std::vector<std::string>{"a", "b", "c"});
    // d waits for the first of them to end.
    REQUIRE(p.reservation());
    CHECK(p.reservation()->id == "d");
    CHECK(p.reservation()->atMs == kNow + kHour);
}

TEST_CASE("memory and slots are counted like CPUs", "[fetchmld][placement]") {
    Placement p({2, 16, 4096, {}}, {}, 0, kNow);
    auto starts = p.plan({job("a", 1, 0, kHour, "alice", 3000),
                          job("b", 1, 0, kHour, "alice", 2000), job("c", 1), job("d", 1)});
    // b does not fit in the 1096 MiB left; c takes the second slot; d has none.
    CHECK(ids(starts) == std::vector<std::string>{"a", "c"});
}

TEST_CASE("GPU jobs get distinct free devices", "[fetchmld][placement]") {
    WorkerCapacity cap{4, 8, 0, {"nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=2"}};
    // gpu=1 is held by a running job.
    Allocation running{job("r", 1, 1), {"nvidia.com/gpu=1"}, kNow + kHour};
    Placement p(cap, {running}, 0, kNow);
    auto starts = p.plan({job("a", 1, 1), job("b", 1, 1), job("c", 1, 1)});
    REQUIRE(starts.size() == 2);
    CHECK(starts[0].devices == std::vector<std::string>{"nvidia.com/gpu=0"});
    CHECK(starts[1].devices == std::vector<std::string>{"nvidia.com/gpu=2"});
    REQUIRE(p.reservation());
    CHECK(p.reservation()->id == "c");  // waits for r's device
}

TEST_CASE("backfill starts short jobs that end before the reserved start",
          "[fetchmld][placement]") {
    // 4 CPUs; a 3-CPU job runs for another hour. The big 4-CPU job must wait an hour.
    Allocation running{job("r", 3), {}, kNow + kHour};
    Placement p({8, 4, 0, {}}, {running}, 0, kNow);
    auto starts =
        p.plan({job("big", 4), job("long", 1, 0, 2 * kHour), job("short", 1, 0, kHour / 2)});
    // "long" would still hold a CPU when "big" is due: it would delay it. "short" ends first.
    CHECK(ids(starts) == std::vector<std::string>{"short"});
    REQUIRE(p.reservation());
    CHECK(p.reservation()->id == "big");
    CHECK(p.reservation()->atMs == kNow + kHour);
}

TEST_CASE("backfill starts long jobs that fit beside the reserved one", "[fetchmld][placement]") {
    // 8 CPUs, 6 held for an hour; big needs 6: at the reserved start 2 CPUs stay spare.
    Allocation running{job("r", 6), {}, kNow + kHour};
    Placement p({8, 8, 0, {}}, {running}, 0, kNow);
    auto starts = p.plan({job("big", 6), job("l1", 1, 0, 5 * kHour), job("l2", 1, 0, 5 * kHour)});
    CHECK(ids(starts) == std::vector<std::string>{"l1", "l2"});
    // A third long one would take a CPU big needs then: it waits.
    Allocation a1{job("l1", 1, 0, 5 * kHour), {}, kNow + 5 * kHour};
    Allocation a2{job("l2", 1, 0, 5 * kHour), {}, kNow + 5 * kHour};
    Placement again({8, 8, 0, {}}, {running, a1, a2}, 0, kNow);
    CHECK(again.plan({job("big", 6), job("l3", 1, 0, 5 * kHour)}).empty());
    CHECK(again.reservation()->atMs == kNow + kHour);
}

TEST_CASE("a job that can never fit neither runs nor blocks others", "[fetchmld][placement]") {
    Placement p({2, 2, 1024, {"nvidia.com/gpu=0"}}, {}, 0, kNow);
    CHECK_FALSE(p.everFits(job("huge", 64)));
    CHECK_FALSE(p.everFits(job("twogpus", 1, 2)));
    auto starts = p.plan({job("huge", 64), job("twogpus", 1, 2), job("ok", 1, 1)});
    CHECK(ids(starts) == std::vector<std::string>{"ok"});
    CHECK_FALSE(p.reservation());
}

TEST_CASE("placement keeps the per-user limit", "[fetchmld][placement]") {
    Allocation running{job("r", 1, 0, kHour, "alice"), {}, kNow + kHour};
    Placement p({8, 8, 0, {}}, {running}, 2, kNow);
    auto starts = p.plan({job("a1", 1, 0, kHour, "alice"), job("a2", 1, 0, kHour, "alice"),
                          job("b1", 1, 0, kHour, "bob")});
    CHECK(ids(starts) == std::vector<std::string>{"a1", "b1"});
}

TEST_CASE("fractional CPUs add up", "[fetchmld][placement]") {
    Placement p({8, 1, 0, {}}, {}, 0, kNow);
    auto starts = p.plan({job("a", 0.1), job("b", 0.2), job("c", 0.7), job("d", 0.1)});
    CHECK(ids(starts) == std::vector<std::string>{"a", "b", "c"});
}
