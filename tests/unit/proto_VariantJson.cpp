#include <catch2/catch.hpp>

#include "proto/VariantJson.hpp"

using namespace fetchml;
using nlohmann::json;

namespace {

VariantMap toMap(const json& j) {
    auto r = jsonToVariantMap(j);
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
    return *r;
}

json toJson(const VariantMap& m) {
    auto r = variantMapToJson(m);
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
    return *r;
}

}  // namespace

TEST_CASE("VariantJson: JSON types map to D-Bus signatures", "[proto][variantjson]") {
    json body = json::parse(R"({
        "name": "digits", "flag": true, "neg": -5, "pos": 7, "lr": 0.01,
        "command": ["python3", "train.py"], "empty": [],
        "params": {"lr": "0.1", "bs": "32"},
        "nested": {"a": 1, "b": {"c": "d"}},
        "jobs": [{"id": "j1", "n": 1}, {"id": "j2"}],
        "ints": [1, -2, 3], "nums": [1, 2.5], "mixed": [1, "a", true],
        "gone": null
    })");
    VariantMap m = toMap(body);
    CHECK(m.at("name").peekValueType() == "s");
    CHECK(m.at("flag").peekValueType() == "b");
    CHECK(m.at("neg").peekValueType() == "x");
    CHECK(m.at("pos").peekValueType() == "t");
    CHECK(m.at("lr").peekValueType() == "d");
    CHECK(m.at("command").peekValueType() == "as");
    CHECK(m.at("empty").peekValueType() == "as");
    CHECK(m.at("params").peekValueType() == "a{ss}");
    CHECK(m.at("nested").peekValueType() == "a{sv}");
    CHECK(m.at("jobs").peekValueType() == "aa{sv}");
    CHECK(m.at("ints").peekValueType() == "ax");
    CHECK(m.at("nums").peekValueType() == "ad");
    CHECK(m.at("mixed").peekValueType() == "av");
    CHECK(m.count("gone") == 0);

    json back = toJson(m);
    body.erase("gone");
    CHECK(back == body);
}

TEST_CASE("VariantJson: every D-Bus type converts to JSON", "[proto][variantjson]") {
    VariantMap inner{{"x", sdbus::Variant(std::int32_t{-3})}};
    VariantMap m{
        {"s", sdbus::Variant(std::string("text"))},
        {"b", sdbus::Variant(false)},
        {"i", sdbus::Variant(std::int32_t{-42})},
        {"u", sdbus::Variant(std::uint32_t{42})},
        {"x", sdbus::Variant(std::int64_t{-9000000000})},
        {"t", sdbus::Variant(std::uint64_t{18000000000000000000ull})},
        {"n", sdbus::Variant(std::int16_t{-7})},
        {"q", sdbus::Variant(std::uint16_t{65535})},
        {"y", sdbus::Variant(std::uint8_t{255})},
        {"d", sdbus::Variant(0.5)},
        {"as", sdbus::Variant(std::vector<std::string>{"a", "b"})},
        {"ay", sdbus::Variant(std::vector<std::uint8_t>{'o', 'k', 0xff, 'x', 0xe2, 0x82})},
        {"ass", sdbus::Variant(std::map<std::string, std::string>{{"k", "v"}})},
        {"asv", sdbus::Variant(inner)},
        {"asd", sdbus::Variant(std::map<std::string, double>{{"loss", 0.25}})},
        {"aasv", sdbus::Variant(std::vector<VariantMap>{inner, inner})},
        {"o", sdbus::Variant(sdbus::ObjectPath("/org/fetchml/Scheduler1"))},
    };
    json j = toJson(m);
    CHECK(j["s"] == "text");
    CHECK(j["b"] == false);
    CHECK(j["i"] == -42);
    CHECK(j["u"] == 42);
    CHECK(j["x"] == -9000000000);
    CHECK(j["t"].get<std::uint64_t>() == 18000000000000000000ull);
    CHECK(j["n"] == -7);
    CHECK(j["q"] == 65535);
    CHECK(j["y"] == 255);
    CHECK(j["d"] == 0.5);
    CHECK(j["as"] == json::array({"a", "b"}));
    CHECK(j["ay"] == "ok\xEF\xBF\xBDx\xEF\xBF\xBD");
    CHECK(j["ass"] == json{{"k", "v"}});
    CHECK(j["asv"] == json{{"x", -3}});
    CHECK(j["asd"] == json{{"loss", 0.25}});
    CHECK(j["aasv"] == json::array({json{{"x", -3}}, json{{"x", -3}}}));
    CHECK(j["o"] == "/org/fetchml/Scheduler1");
    // The JSON text is valid UTF-8 (dump throws otherwise).
    CHECK_NOTHROW(j.dump());
}

TEST_CASE("VariantJson: conversion errors name the field", "[proto][variantjson]") {
    auto notObject = jsonToVariantMap(json::array({1}));
    REQUIRE_FALSE(notObject.ok());
    CHECK(notObject.error().code == ErrorCode::InvalidArgument);
    CHECK(notObject.error().message == "body: expected an object, got array");

    auto nullInArray = jsonToVariantMap(json::parse(R"({"a": {"b": [1, null]}})"));
    REQUIRE_FALSE(nullInArray.ok());
    CHECK(nullInArray.error().message.find("'a.b[1]'") != std::string::npos);

    json deep = "leaf";
    for (int i = 0; i < 40; ++i) {
        deep = json{{"k", deep}, {"n", 1}};
    }
    CHECK_FALSE(jsonToVariantMap(deep).ok());

    VariantMap withFd{{"fd", sdbus::Variant(sdbus::Struct<std::int32_t, std::string>(1, "x"))}};
    auto r = variantMapToJson(withFd);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "field 'fd': D-Bus type '(is)' has no JSON form");
}

TEST_CASE("VariantJson: sanitizeUtf8 replaces maximal invalid subparts", "[proto][variantjson]") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(sanitizeUtf8("plain ascii") == "plain ascii");
    CHECK(sanitizeUtf8("\xC3\xA9t\xC3\xA9") == "\xC3\xA9t\xC3\xA9");
    CHECK(sanitizeUtf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
    CHECK(sanitizeUtf8("\xC0\xAF") == r + r);                  // overlong
    CHECK(sanitizeUtf8("\xED\xA0\x80") == r + r + r);          // surrogate
    CHECK(sanitizeUtf8("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
    CHECK(sanitizeUtf8("\xE2\x82") == r);                      // truncated
    CHECK(sanitizeUtf8("a\xE2\x82"
                       "b") == "a" + r + "b");
    CHECK(sanitizeUtf8(std::string("\0x", 2)) == std::string("\0x", 2));
}

TEST_CASE("VariantJson: typed getters", "[proto][variantjson]") {
    VariantMap m = toMap(json::parse(R"({
        "name": "n", "priority": 5, "offset": -1, "follow": true,
        "command": ["a", "b"], "params": {"lr": "0.1"}, "lr": 0.5, "mixed": {"a": 1}
    })"));
    m.emplace("small", sdbus::Variant(std::uint8_t{9}));
    m.emplace("big", sdbus::Variant(std::uint64_t{1ull << 63}));
    m.emplace("i32", sdbus::Variant(std::int32_t{-4}));

    CHECK(*getString(m, "name") == "n");
    CHECK(*getString(m, "absent", "dflt") == "dflt");
    CHECK_FALSE(getOptionalString(m, "absent")->has_value());
    CHECK(**getOptionalString(m, "name") == "n");

    CHECK(*getInt64(m, "priority") == 5);
    CHECK(*getInt64(m, "offset") == -1);
    CHECK(*getInt64(m, "small") == 9);
    CHECK(*getInt64(m, "i32") == -4);
    CHECK(*getInt64(m, "absent", 42) == 42);
    CHECK(**getOptionalInt64(m, "priority") == 5);
    CHECK(*getUInt64(m, "big") == (1ull << 63));
    CHECK(*getUInt64(m, "absent", 3) == 3);
    CHECK_FALSE(getOptionalUInt64(m, "absent")->has_value());

    CHECK(*getBool(m, "follow"));
    CHECK_FALSE(*getBool(m, "absent", false));
    CHECK(**getOptionalBool(m, "follow"));

    CHECK(*getStringList(m, "command") == std::vector<std::string>{"a", "b"});
    CHECK(getStringList(m, "absent", {"x"})->size() == 1);
    CHECK(getOptionalStringList(m, "command")->value().size() == 2);
    CHECK(getStringMap(m, "params")->at("lr") == "0.1");
    CHECK(getStringMap(m, "absent", {})->empty());
    CHECK_FALSE(getOptionalStringMap(m, "absent")->has_value());

    auto err = [](const auto& r) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        return r.error().message;
    };
    CHECK(err(getString(m, "missing")) == "missing field 'missing'");
    CHECK(err(getString(m, "priority")) == "field 'priority': expected a string, got an integer");
    CHECK(err(getString(m, "priority", "x")) ==
          "field 'priority': expected a string, got an integer");
    CHECK(err(getOptionalString(m, "follow")) ==
          "field 'follow': expected a string, got a boolean");
    CHECK(err(getInt64(m, "name")) == "field 'name': expected an integer, got a string");
    CHECK(err(getInt64(m, "lr")) == "field 'lr': expected an integer, got a number");
    CHECK(err(getInt64(m, "big")) == "field 'big': integer out of range");
    CHECK(err(getUInt64(m, "offset")) == "field 'offset': expected a non-negative integer, got -1");
    CHECK(err(getBool(m, "name")) == "field 'name': expected a boolean, got a string");
    CHECK(err(getStringList(m, "params")) ==
          "field 'params': expected a list of strings, got a map of strings");
    CHECK(err(getStringMap(m, "command")) ==
          "field 'command': expected a map of strings, got a list of strings");
    CHECK(err(getStringMap(m, "mixed")) == "field 'mixed.a': expected a string, got an integer");
}
