// `fetchmlctl data` end to end: the real fetchmlctl against a real fetchmld (and
// fetchml-httpsd) on a private bus (docs/datasets.md). A version is added from a directory
// (deduplicated against everything stored), an unchanged directory adds nothing, versions are
// numbered and listed, a job names a dataset and records the exact version, rerun repeats that
// version, and removal keeps numbers from being given again.

#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using json = nlohmann::json;

namespace {

struct Fixture {
    Fixture() : stack(true) {
        mkdir(stack.tmp.sub("ds").c_str(), 0755);
        mkdir(stack.tmp.sub("exp").c_str(), 0755);
        writeFile(stack.tmp.sub("exp/run.sh"), "ls /workspace/data\n");
        auto alice = stack.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                            {"role", sdbus::Variant(std::string("researcher"))}});
        aliceKey = alice.at("api_key").get<std::string>();
    }

    /// Runs fetchmlctl over HTTPS as alice, or over D-Bus as the local admin.
    CommandResult ctl(std::vector<std::string> args, bool overHttps = true) const {
        return overHttps ? stack.ctlRemote(std::move(args), aliceKey)
                         : stack.ctlLocal(std::move(args));
    }
    /// The JSON a successful command prints.
    json ctlJson(std::vector<std::string> args, bool overHttps = true) const {
        auto result = ctl(std::move(args), overHttps);
        INFO(result.out << result.err);
        REQUIRE(result.exitCode == 0);
        return json::parse(result.out);
    }
    std::string ds(const std::string& name = "") const {
        return stack.tmp.sub(name.empty() ? "ds" : "ds/" + name);
    }

    Stack stack;
    std::string aliceKey;
};

}  // namespace

TEST_CASE("data add numbers versions and sends only what the server lacks", "[ctl][data]") {
    Fixture f;
    writeFile(f.ds("a.csv"), "x,y\n1,2\n");
    writeFile(f.ds("b.csv"), "x,y\n3,4\n");

    auto first = f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"});
    CHECK(first["name"] == "digits");
    CHECK(first["version"] == 1);
    CHECK(first["created"] == true);
    CHECK(first["files"] == 2);
    CHECK(first["user"] == "alice");
    CHECK(first["tree"] == first["sync"]["commit"]);

    // Unchanged: nothing sent, nothing added.
    auto again = f.ctl({"data", "add", f.ds(), "--name", "digits"});
    INFO(again.err);
    REQUIRE(again.exitCode == 0);
    CHECK(again.out.rfind(
              "digits@1 unchanged (tree " + first["tree"].get<std::string>().substr(0, 12), 0) ==
          0);

    // One file changed: only it is sent, and it becomes version 2 (over D-Bus this time).
    writeFile(f.ds("b.csv"), "x,y\n5,6\n");
    auto second = f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"}, false);
    CHECK(second["version"] == 2);
    CHECK(second["sync"]["blobs_sent"] == 1);

    auto list = f.ctlJson({"data", "list", "--json"});
    REQUIRE(list.size() == 1);
    CHECK(list[0]["name"] == "digits");
    CHECK(list[0]["version"] == 2);
    CHECK(list[0]["versions"] == 2);
    CHECK(list[0]["owner"] == "alice");

    auto shown = f.ctlJson({"data", "show", "digits@1", "--files", "--json"});
    REQUIRE(shown["versions"].size() == 1);
    CHECK(shown["versions"][0]["tree"] == first["tree"]);
    CHECK(shown["files"] ==
          json::array({{{"path", "a.csv"}, {"size", 8}}, {{"path", "b.csv"}, {"size", 8}}}));
    auto all = f.ctlJson({"data", "show", "digits", "--json"});
    REQUIRE(all["versions"].size() == 2);
    CHECK(all["versions"][0]["version"] == 2);  // newest first

    auto bad = f.ctl({"data", "show", "digits@9"});
    CHECK(bad.exitCode == 2);
    CHECK(f.ctl({"data", "add", f.ds(), "--name", "-x"}).exitCode == 1);  // before any upload
}

TEST_CASE("a job records the exact version; rerun repeats it; rm never reuses numbers",
          "[ctl][data]") {
    Fixture f;
    writeFile(f.ds("a.csv"), "1\n");
    f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"});
    writeFile(f.ds("a.csv"), "2\n");
    auto v2 = f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"});

    auto queued = f.ctlJson(
        {"queue", f.stack.tmp.sub("exp"), "--data", "digits", "--json", "--", "sh", "run.sh"});
    REQUIRE(queued.size() == 1);
    const std::string id = queued[0]["id"];
    auto job = f.ctlJson({"status", id, "--json"});
    CHECK(job["data"] == json::array({"digits@2"}));  // "digits" meant the latest
    CHECK(job["data_trees"]["digits"] == v2["tree"]);
    auto detail = f.ctl({"status", id});
    CHECK(detail.out.find("data:      digits@2 (tree " +
                          v2["tree"].get<std::string>().substr(0, 12) + ")") != std::string::npos);

    // A third version: the rerun still reads version 2.
    writeFile(f.ds("a.csv"), "3\n");
    f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"});
    auto rerun = f.ctlJson({"rerun", id, "--json"});
    CHECK(rerun["data"] == json::array({"digits@2"}));

    auto compared = f.ctlJson({"compare", id, rerun["id"], "--json"});
    bool sawTree = false;
    for (const auto& row : compared["rows"]) {
        if (row["field"] == "data digits") {
            sawTree = true;
            CHECK(row["differs"] == false);
        }
    }
    CHECK(sawTree);

    // Remove version 3: the next version is 4, and version 3 can no longer be named.
    auto removed = f.ctlJson({"data", "rm", "digits@3", "--json"});
    CHECK(removed["versions"][0]["version"] == 3);
    CHECK(f.ctl({"queue", f.stack.tmp.sub("exp"), "--data", "digits@3", "--", "true"}).exitCode ==
          2);
    writeFile(f.ds("a.csv"), "4\n");
    auto v4 = f.ctlJson({"data", "add", f.ds(), "--name", "digits", "--json"});
    CHECK(v4["version"] == 4);
}
