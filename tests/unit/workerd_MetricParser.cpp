// Unit tests for daemons/fetchml-workerd/MetricParser (metric lines on stdout/stderr and
// JSON lines in metrics.jsonl, DESIGN.md §4).
#include <catch2/catch.hpp>

#include "MetricParser.hpp"

using fetchml::MetricParser;

TEST_CASE("workerd metric line with step and values", "[workerd][metric]") {
    auto m = MetricParser::parseLine("fetchml:metric step=3 loss=0.41 acc=0.9");
    REQUIRE(m);
    REQUIRE(m->step);
    CHECK(*m->step == 3);
    REQUIRE(m->values.size() == 2);
    CHECK(m->values.at("loss") == Approx(0.41));
    CHECK(m->values.at("acc") == Approx(0.9));
}

TEST_CASE("workerd metric line without step, blanks, CR and exponents", "[workerd][metric]") {
    auto m = MetricParser::parseLine("  fetchml:metric\tval/loss=-1.5e-3  lr=1E2\r");
    REQUIRE(m);
    CHECK_FALSE(m->step);
    CHECK(m->values.at("val/loss") == Approx(-1.5e-3));
    CHECK(m->values.at("lr") == Approx(100.0));
}

TEST_CASE("workerd non-metric lines are log", "[workerd][metric]") {
    for (const char* line :
         {"", "hello", "fetchml:metric", "fetchml:metric step=1", "fetchml:metricx loss=1",
          "echo fetchml:metric loss=1", "fetchml:metric loss=abc", "fetchml:metric loss=nan",
          "fetchml:metric loss=inf", "fetchml:metric loss=0x10", "fetchml:metric loss",
          "fetchml:metric =1", "fetchml:metric step=-1 loss=1", "fetchml:metric step=1.5 loss=1",
          "fetchml:metric step=1 step=2 loss=1", "fetchml:metric lo$s=1",
          "fetchml:metric loss=1e999"}) {
        INFO(line);
        CHECK_FALSE(MetricParser::parseLine(line));
    }
}

TEST_CASE("workerd metrics.jsonl lines", "[workerd][metric]") {
    auto m = MetricParser::parseJsonLine(R"({"step": 7, "loss": 0.25, "acc": 1, "note": "x"})");
    REQUIRE(m);
    CHECK(*m->step == 7);
    CHECK(m->values.size() == 2);
    CHECK(m->values.at("acc") == Approx(1.0));
    CHECK(m->values.at("loss") == Approx(0.25));

    auto noStep = MetricParser::parseJsonLine(R"({"loss": 2})");
    REQUIRE(noStep);
    CHECK_FALSE(noStep->step);

    for (const char* line : {"", "not json", "[1,2]", "3", R"({"step": 1})",
                             R"({"step": -1, "loss": 1})", R"({"step": "1", "loss": 1})",
                             R"({"loss": "0.5"})", R"({"bad name": 1})", R"({"loss": 1)"}) {
        INFO(line);
        CHECK_FALSE(MetricParser::parseJsonLine(line));
    }
}

TEST_CASE("workerd metric names", "[workerd][metric]") {
    CHECK(MetricParser::isMetricName("train/loss_1.x-y"));
    CHECK_FALSE(MetricParser::isMetricName(""));
    CHECK_FALSE(MetricParser::isMetricName(std::string(65, 'a')));
    CHECK_FALSE(MetricParser::isMetricName("a b"));
}
