// `fetchmlctl compare`: the rows of a comparison and the files two code trees differ in.

#include <catch2/catch.hpp>

#include "JobComparison.hpp"

using namespace fetchml;
using namespace fetchml::ctl;
using nlohmann::json;

namespace {

const ComparisonRow& row(const std::vector<ComparisonRow>& rows, const std::string& field) {
    for (const auto& r : rows) {
        if (r.field == field) {
            return r;
        }
    }
    FAIL("no row " << field);
    throw std::logic_error("unreachable");
}

Manifest tree(const std::string& lines) {
    auto m = Manifest::parse("fetchml-manifest 1\n" + lines);
    REQUIRE(m.ok());
    return *m;
}

const std::string kA(64, 'a'), kB(64, 'b'), kC(64, 'c');

}  // namespace

TEST_CASE("compare lines up fields, parameters and metrics of every job", "[ctl][compare]") {
    json first = {{"id", "j000001"},
                  {"state", "succeeded"},
                  {"exit_code", 0},
                  {"image", "rootfs:busybox"},
                  {"commit", kA},
                  {"command", {"python3", "train.py"}},
                  {"started_at", 1000},
                  {"finished_at", 3500},
                  {"params", {{"lr", "0.1"}, {"bs", "32"}}},
                  {"metrics", {{"loss", 0.25}}}};
    json second = first;
    second["id"] = "j000002";
    second["state"] = "failed";
    second["exit_code"] = 3;
    second["commit"] = kB;
    second["params"] = {{"lr", "0.01"}, {"bs", "32"}, {"seed", "7"}};
    second["metrics"] = {{"loss", 0.5}, {"accuracy", 0.75}};
    second["finished_at"] = 0;  // not finished

    auto rows = compareJobs({first, second});
    std::vector<std::string> fields;
    for (const auto& r : rows) {
        fields.push_back(r.field);
    }
    // Fixed fields first, then the union of parameter and metric names, each sorted.
    CHECK(fields == std::vector<std::string>{"state", "exit_code", "image", "commit", "command",
                                             "duration_s", "param bs", "param lr", "param seed",
                                             "metric accuracy", "metric loss"});
    CHECK(row(rows, "state").values == std::vector<std::string>{"succeeded", "failed"});
    CHECK(row(rows, "state").differs);
    CHECK(row(rows, "exit_code").values == std::vector<std::string>{"0", "3"});
    CHECK_FALSE(row(rows, "image").differs);
    CHECK(row(rows, "commit").values ==
          std::vector<std::string>{kA.substr(0, 12), kB.substr(0, 12)});
    CHECK(row(rows, "command").values.front() == "python3 train.py");
    CHECK(row(rows, "duration_s").values == std::vector<std::string>{"2.5", ""});
    CHECK_FALSE(row(rows, "param bs").differs);
    CHECK(row(rows, "param lr").values == std::vector<std::string>{"0.1", "0.01"});
    CHECK(row(rows, "param seed").values == std::vector<std::string>{"", "7"});
    CHECK(row(rows, "param seed").differs);
    CHECK(row(rows, "metric loss").values == std::vector<std::string>{"0.25", "0.5"});
    CHECK(row(rows, "metric accuracy").values == std::vector<std::string>{"", "0.75"});
}

TEST_CASE("compare shows the dataset versions and the trees each job read", "[ctl][compare]") {
    json first = {{"id", "j000001"},
                  {"data", {"mnist@2", "labels@1"}},
                  {"data_trees", {{"mnist", kA}, {"labels", kC}}}};
    json second = {{"id", "j000002"},
                   {"data", {"mnist@3", "labels@1"}},
                   {"data_trees", {{"mnist", kA}, {"labels", kC}}}};  // v3 holds v2's tree
    json third = {{"id", "j000003"}, {"data", {"mnist@4"}}, {"data_trees", {{"mnist", kB}}}};

    auto rows = compareJobs({first, second, third});
    std::vector<std::string> fields;
    for (const auto& r : rows) {
        fields.push_back(r.field);
    }
    CHECK(fields == std::vector<std::string>{"state", "exit_code", "image", "commit", "data",
                                             "data labels", "data mnist", "command", "duration_s"});
    CHECK(row(rows, "data").values ==
          std::vector<std::string>{"mnist@2 labels@1", "mnist@3 labels@1", "mnist@4"});
    CHECK(row(rows, "data").differs);
    CHECK(row(rows, "data mnist").values ==
          std::vector<std::string>{kA.substr(0, 12), kA.substr(0, 12), kB.substr(0, 12)});
    CHECK(row(rows, "data mnist").differs);
    CHECK(row(rows, "data labels").values ==
          std::vector<std::string>{kC.substr(0, 12), kC.substr(0, 12), ""});

    // Same trees under other version numbers: the list differs, the tree rows do not.
    auto same = compareJobs({first, second});
    CHECK(row(same, "data").differs);
    CHECK_FALSE(row(same, "data mnist").differs);
    CHECK_FALSE(row(same, "data labels").differs);

    // No job reads data: no data rows at all.
    for (const auto& r :
         compareJobs({json{{"id", "a"}}, json{{"id", "b"}, {"data", json::array()}}})) {
        CHECK(r.field.rfind("data", 0) != 0);
    }
}

TEST_CASE("compare finds added, removed and modified files in one pass", "[ctl][compare]") {
    auto base = tree("100644 1 " + kA + " a.txt\n100644 1 " + kA + " keep.txt\n100644 1 " + kB +
                     " old/gone.py\n100644 1 " + kC + " train.py\n");
    auto other = tree("100644 1 " + kA + " a.txt\n100644 1 " + kA + " keep.txt\n100644 1 " + kB +
                      " new.txt\n100755 1 " + kC + " train.py\n");
    auto changes = diffTrees(base, other);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].path == "new.txt");
    CHECK(changes[0].kind == 'A');
    CHECK(changes[1].path == "old/gone.py");
    CHECK(changes[1].kind == 'D');
    CHECK(changes[2].path == "train.py");  // mode only: still a change
    CHECK(changes[2].kind == 'M');

    CHECK(diffTrees(base, base).empty());
    auto edited = tree("100644 1 " + kB + " a.txt\n");
    auto fromEmpty = diffTrees(tree(""), edited);
    REQUIRE(fromEmpty.size() == 1);
    CHECK(fromEmpty[0].kind == 'A');
    auto toEmpty = diffTrees(edited, tree(""));
    REQUIRE(toEmpty.size() == 1);
    CHECK(toEmpty[0].kind == 'D');
}
