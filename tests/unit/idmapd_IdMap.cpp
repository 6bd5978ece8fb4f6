// Unit tests for daemons/fetchml-idmapd: newuidmap-style arguments, the request line, and
// the subuid/subgid policy (shadow's rules, subuid(5)).
#include <catch2/catch.hpp>

#include "IdMapRequest.hpp"
#include "SubIdPolicy.hpp"

using namespace fetchml;

TEST_CASE("idmap arguments as podman passes them", "[idmapd]") {
    auto r = parseIdMapArguments(IdKind::User, {"4242", "0", "997", "1", "1", "524288", "65536"});
    REQUIRE(r);
    CHECK(r->pid == 4242);
    REQUIRE(r->mappings.size() == 2);
    CHECK(r->mappings[1].inside == 1);
    CHECK(r->mappings[1].outside == 524288);
    CHECK(r->mappings[1].count == 65536);
    CHECK(formatIdMapRequestLine(*r) == "uid 4242 0 997 1 1 524288 65536\n");
    CHECK(formatIdMapFile(r->mappings) == "0 997 1\n1 524288 65536\n");
    auto back = parseIdMapRequestLine(formatIdMapRequestLine(*r));
    REQUIRE(back);
    CHECK(back->kind == IdKind::User);
    CHECK(formatIdMapFile(back->mappings) == formatIdMapFile(r->mappings));
}

TEST_CASE("idmap arguments that are wrong say which one", "[idmapd]") {
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    for (const auto& c : std::vector<Case>{
             {{}, "missing arguments"},
             {{"4242"}, "in threes"},
             {{"4242", "0", "997"}, "in threes"},
             {{"x", "0", "997", "1"}, "argument 1 (PID)"},
             {{"1", "0", "997", "1"}, "argument 1 (PID)"},
             {{"4242", "0", "-5", "1"}, "argument 3 (OUTSIDE)"},
             {{"4242", "0", "997", "0"}, "argument 4 (COUNT): must be at least 1"},
             {{"4242", "0", "4294967295", "1"}, "not a valid id"},
             {{"4242", "0", "4294967290", "10"}, "past the largest id"},
             {{"4242", "0", "997", "1", "0", "524288", "10"}, "overlap"},
             {{"4242", "0", "100", "10", "20", "105", "10"}, "overlap"},
             {{"4242", "0", "997", "1 "}, "argument 4 (COUNT)"},
         }) {
        auto r = parseIdMapArguments(IdKind::Group, c.args);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK_THAT(r.error().message, Catch::Contains(c.says));
    }
}

TEST_CASE("idmap request lines", "[idmapd]") {
    CHECK_FALSE(parseIdMapRequestLine("map 42 0 1 1\n"));
    CHECK_FALSE(parseIdMapRequestLine("uid  42 0 1 1\n"));
    CHECK_FALSE(parseIdMapRequestLine(""));
    CHECK_FALSE(parseIdMapRequestLine(std::string(5000, '1')));
    auto g = parseIdMapRequestLine("gid 42 0 1000 1");
    REQUIRE(g);
    CHECK(g->kind == IdKind::Group);
}

TEST_CASE("subid ranges of one user by name or id", "[idmapd]") {
    const char* text =
        "# comment\n"
        "alice:100000:65536\n"
        "fetchml-worker:524288:65536\n"
        "997:700000:10\n"
        "fetchml-worker:bad:1\n"
        "fetchml-worker:1:2:3\n"
        "fetchml-worker:900000:0\n"
        "\n"
        "fetchml-worker-2:800000:5";
    auto r = subIdRangesFor(text, "fetchml-worker", 997);
    REQUIRE(r.size() == 2);
    CHECK(r[0].start == 524288);
    CHECK(r[1].start == 700000);
    CHECK(subIdRangesFor(text, "", 997).size() == 1);
    CHECK(subIdRangesFor(text, "bob", 1001).empty());
}

TEST_CASE("subid policy: own id or inside one range", "[idmapd]") {
    std::vector<SubIdRange> ranges{{524288, 65536}, {700000, 10}};
    auto ok = checkIdMappings({{0, 997, 1}, {1, 524288, 65536}, {65537, 700000, 10}}, 997, ranges,
                              "/etc/subuid");
    CHECK(ok);
    // One past the end of the range, a range spanning two entries, the own id with count 2,
    // someone else's id.
    for (const auto& bad : std::vector<IdMapping>{
             {1, 524288, 65537}, {1, 589823, 2}, {0, 997, 2}, {0, 0, 1}, {0, 998, 1}}) {
        auto r = checkIdMappings({{0, 997, 1}, bad}, 997, ranges, "/etc/subuid");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::PermissionDenied);
        CHECK_THAT(r.error().message,
                   Catch::Contains("mapping 2") && Catch::Contains("/etc/subuid"));
    }
    CHECK_FALSE(checkIdMappings({{1, 524288, 10}}, 997, {}, "/etc/subgid"));
}
