// Unit tests of fetchmld's sweep expansion (SweepPlan): order, fixed parameters, the per-sweep
// limit and the errors that name the field.
#include <catch2/catch.hpp>

#include "SweepPlan.hpp"

using namespace fetchml;
using Map = std::map<std::string, std::string>;

TEST_CASE("a sweep expands to the cartesian product, first axis slowest", "[fetchmld][sweep]") {
    auto combos = expandSweep({{"seed", "7"}}, {{"C", {"0.1", "1", "10"}}, {"gamma", {"a", "b"}}});
    REQUIRE(combos.ok());
    REQUIRE(combos->size() == 6);
    CHECK((*combos)[0] == Map{{"C", "0.1"}, {"gamma", "a"}, {"seed", "7"}});
    CHECK((*combos)[1] == Map{{"C", "0.1"}, {"gamma", "b"}, {"seed", "7"}});
    CHECK((*combos)[2] == Map{{"C", "1"}, {"gamma", "a"}, {"seed", "7"}});
    CHECK((*combos)[5] == Map{{"C", "10"}, {"gamma", "b"}, {"seed", "7"}});
    // One axis of one value is one job.
    auto one = expandSweep({}, {{"lr", {"0.1"}}});
    REQUIRE(one.ok());
    CHECK(*one == std::vector<Map>{{{"lr", "0.1"}}});
}

TEST_CASE("a sweep larger than the limit is refused before it is expanded", "[fetchmld][sweep]") {
    std::vector<std::string> ten{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    CHECK(expandSweep({}, {{"a", ten}, {"b", ten}}, 100).ok());
    auto tooMany = expandSweep({}, {{"a", ten}, {"b", ten}}, 99);
    REQUIRE_FALSE(tooMany.ok());
    CHECK(tooMany.error().code == ErrorCode::InvalidArgument);
    CHECK(tooMany.error().message ==
          "sweep: the combinations make more than 99 jobs, the limit per sweep");
    // Many axes whose product overflows size_t are refused, not wrapped around.
    std::vector<SweepAxis> axes;
    for (int i = 0; i < 70; ++i) {
        axes.push_back({"p" + std::to_string(i), {"x", "y"}});
    }
    auto huge = expandSweep({}, axes);
    REQUIRE_FALSE(huge.ok());
    CHECK(huge.error().message.find("more than 10000 jobs") != std::string::npos);
}

TEST_CASE("bad axes are refused naming the field", "[fetchmld][sweep]") {
    auto message = [](const Map& fixed, const std::vector<SweepAxis>& axes) {
        auto r = expandSweep(fixed, axes);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        return r.error().message;
    };
    CHECK(message({}, {}) == "sweep: at least one axis is needed");
    CHECK(message({}, {{"lr", {}}}) == "sweep.lr: no values");
    CHECK(message({}, {{"lr", {"1"}}, {"lr", {"2"}}}) == "sweep.lr: given twice");
    CHECK(message({{"lr", "1"}}, {{"lr", {"2"}}}) == "sweep.lr: also a fixed parameter");
    CHECK(message({}, {{"lr", {std::string("a\0b", 3)}}}) ==
          "sweep.lr: a value contains a NUL byte");
}
