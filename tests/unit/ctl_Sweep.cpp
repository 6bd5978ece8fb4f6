// Parameters and sweeps of `fetchmlctl queue --param`.

#include <catch2/catch.hpp>

#include "Sweep.hpp"

using namespace fetchml;
using namespace fetchml::ctl;

TEST_CASE("a single value is one parameter, not a sweep", "[ctl][sweep]") {
    auto spec = parseParam("lr=0.1");
    REQUIRE(spec.ok());
    CHECK(spec->name == "lr");
    CHECK(spec->values == std::vector<std::string>{"0.1"});

    // An empty value is refused: it looks like a value was meant and forgotten.
    auto empty = parseParam("note=");
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().message.find("empty value") != std::string::npos);

    auto withEquals = parseParam("expr=a=b");
    REQUIRE(withEquals.ok());
    CHECK(withEquals->values == std::vector<std::string>{"a=b"});
}

TEST_CASE("commas list the values of a sweep", "[ctl][sweep]") {
    auto spec = parseParam("C=0.1,1,10");
    REQUIRE(spec.ok());
    CHECK(spec->values == std::vector<std::string>{"0.1", "1", "10"});
}

TEST_CASE("malformed parameters are refused with the text and why", "[ctl][sweep]") {
    for (const char* text : {"lr", "=1", "1x=2", "a-b=1", "C=1,,2", "C=,1", "C=1,"}) {
        auto spec = parseParam(text);
        INFO(text);
        REQUIRE_FALSE(spec.ok());
        CHECK(spec.error().code == ErrorCode::InvalidArgument);
        CHECK(spec.error().message.find(std::string("--param '") + text + "'") == 0);
    }
    auto twice = parseParams({"a=1", "b=2", "a=3"});
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().message.find("a is given twice") != std::string::npos);
}

TEST_CASE("a sweep expands to the cartesian product, first parameter slowest", "[ctl][sweep]") {
    auto specs = parseParams({"C=0.1,1,10", "gamma=a,b", "seed=7"});
    REQUIRE(specs.ok());
    auto combos = expandSweep(*specs);
    REQUIRE(combos.ok());
    REQUIRE(combos->size() == 6);
    using Map = std::map<std::string, std::string>;
    CHECK((*combos)[0] == Map{{"C", "0.1"}, {"gamma", "a"}, {"seed", "7"}});
    CHECK((*combos)[1] == Map{{"C", "0.1"}, {"gamma", "b"}, {"seed", "7"}});
    CHECK((*combos)[5] == Map{{"C", "10"}, {"gamma", "b"}, {"seed", "7"}});
}

TEST_CASE("no parameters give one job without parameters", "[ctl][sweep]") {
    auto combos = expandSweep({});
    REQUIRE(combos.ok());
    REQUIRE(combos->size() == 1);
    CHECK(combos->front().empty());
}

TEST_CASE("a sweep larger than the limit is refused", "[ctl][sweep]") {
    auto specs = parseParams({"a=1,2,3,4,5,6,7,8,9,10", "b=1,2,3,4,5,6,7,8,9,10"});
    REQUIRE(specs.ok());
    CHECK(expandSweep(*specs, 100).ok());
    auto tooMany = expandSweep(*specs, 99);
    REQUIRE_FALSE(tooMany.ok());
    CHECK(tooMany.error().message == "the sweep has more than 99 jobs");
}
