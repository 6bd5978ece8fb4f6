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

TEST_CASE("a sweep is sent as fixed params and ordered axes", "[ctl][sweep]") {
    auto specs = parseParams({"C=0.1,1,10", "seed=7", "gamma=b,a"});
    REQUIRE(specs.ok());
    CHECK(isSweep(*specs));
    auto fields = paramFields(*specs);
    CHECK(fields.at("params") == nlohmann::json{{"seed", "7"}});
    // Axis order is the order of the flags (the first varies slowest), values as given.
    CHECK(fields.at("sweep") == nlohmann::json::parse(R"([{"name": "C", "values": ["0.1", "1",
        "10"]}, {"name": "gamma", "values": ["b", "a"]}])"));
}

TEST_CASE("single values are one job, not a sweep", "[ctl][sweep]") {
    auto specs = parseParams({"seed=7", "lr=0.1"});
    REQUIRE(specs.ok());
    CHECK_FALSE(isSweep(*specs));
    auto fields = paramFields(*specs);
    CHECK(fields.at("params") == nlohmann::json{{"lr", "0.1"}, {"seed", "7"}});
    CHECK_FALSE(fields.contains("sweep"));
    CHECK_FALSE(isSweep({}));
    CHECK(paramFields({}).at("params").empty());
}
