// End to end through the real stack: scripts/dev-stack starts a private dbus-daemon, fetchmld,
// fetchml-workerd (socket-activated) and fetchml-httpsd; jobs run in real rootless podman
// containers (as fetchml-worker when the test runs as root) from a busybox root file system.
// A LAN client's view: fetchmlctl over HTTPS with a pinned certificate and an API key, and
// curl for raw requests.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/DevStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

// One stack for the whole file: started on first use, stopped at exit.
class Stack : public DevStack {
public:
    Stack() {
        auto add = ctl({"user", "add", "alice", "--role", "researcher"});
        INFO(add.err);
        REQUIRE(add.exitCode == 0);
        auto lines = splitLines(add.out);
        REQUIRE(!lines.empty());
        key_ = lines.back();
        REQUIRE(key_.rfind("fml_", 0) == 0);
    }

    // fetchmlctl with the stack's environment: D-Bus by default, HTTPS when https is true.
    CommandResult ctl(std::vector<std::string> args, bool https = false) const {
        std::vector<std::string> env = this->env();
        if (https) {
            env.push_back("FETCHML_API_KEY=" + key_);
        } else {
            env.push_back("FETCHML_SERVER=");
        }
        args.insert(args.begin(), binaryPath("fetchmlctl"));
        return run(args, env);
    }

    std::string server() const { return value("FETCHML_SERVER"); }
    const std::string& key() const { return key_; }

    // curl against the edge, certificate checked against the generated one.
    CommandResult curl(const std::string& method, const std::string& target,
                       const std::string& body = "", bool withKey = true) const {
        std::vector<std::string> args = {
            "curl", "-sS", "-X", method, "--cacert", path("tls/cert.pem"), "-w", "\n%{http_code}"};
        std::vector<std::string> env;
        if (withKey) {
            // From a file, not argv: keys never appear in ps.
            writeFile(path("curl-auth"), "header = \"Authorization: Bearer " + key_ + "\"\n", 0600);
            args.push_back("-K");
            args.push_back(path("curl-auth"));
        }
        if (!body.empty()) {
            args.insert(args.end(),
                        {"-H", "Content-Type: application/json", "--data-binary", body});
        }
        args.push_back(server() + target);
        return run(args, env);
    }

private:
    std::string key_;
};

Stack& stack() {
    static Stack s;
    return s;
}

json jobJson(const std::string& id) {
    auto r = stack().ctl({"status", id, "--json"}, true);
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
}

json waitFinished(const std::string& id) {
    json j;
    bool done = waitUntil(
        [&] {
            j = jobJson(id);
            auto s = j.value("state", "");
            return s == "succeeded" || s == "failed" || s == "cancelled" || s == "lost";
        },
        600000, 500);
    INFO(j.dump());
    REQUIRE(done);
    return j;
}

std::string queue(const std::string& dir, const std::vector<std::string>& command) {
    std::vector<std::string> args = {"queue", dir, "--image", "rootfs:busybox", "--"};
    args.insert(args.end(), command.begin(), command.end());
    auto r = stack().ctl(args, true);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto lines = DevStack::splitLines(r.out);
    REQUIRE(lines.size() == 1);
    return lines[0];
}

}  // namespace

TEST_CASE("a job runs in a container and its logs, metrics and results come back over HTTPS",
          "[stack]") {
    TempDir exp;
    writeFile(
        exp.sub("run.sh"),
        "echo hello from $FETCHML_JOB_ID\n"
        "echo \"lr is $FETCHML_PARAM_lr\"\n"
        "echo fetchml:metric step=1 loss=0.5 accuracy=0.9\n"
        "echo '{\"step\": 2, \"loss\": 0.25}' >> /workspace/results/metrics.jsonl\n"
        "mkdir -p /workspace/results/sub && echo model-bytes > /workspace/results/sub/model.txt\n"
        "if touch /workspace/code/x 2>/dev/null; then echo code-writable; fi\n"
        "ls /sys/class/net\n");
    auto r = stack().ctl({"queue", exp.path(), "--image", "rootfs:busybox", "--param", "lr=0.1",
                          "--", "sh", "run.sh"},
                         true);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto id = DevStack::splitLines(r.out).at(0);

    auto job = waitFinished(id);
    INFO(job.dump());
    REQUIRE(job["state"] == "succeeded");
    REQUIRE(job["exit_code"] == 0);
    REQUIRE(job["metrics"]["loss"].get<double>() == Approx(0.25));
    REQUIRE(job["metrics"]["accuracy"].get<double>() == Approx(0.9));

    auto logs = stack().ctl({"logs", id}, true);
    REQUIRE(logs.exitCode == 0);
    CHECK(logs.out.find("hello from " + id) != std::string::npos);
    CHECK(logs.out.find("lr is 0.1") != std::string::npos);
    CHECK(logs.out.find("code-writable") == std::string::npos);  // code is read-only
    CHECK(logs.out.find("eth0") == std::string::npos);           // --network none: only lo

    TempDir dl;
    auto res = stack().ctl({"results", id, "--download", dl.path()}, true);
    INFO(res.out << res.err);
    REQUIRE(res.exitCode == 0);
    REQUIRE(readFile(dl.sub("sub/model.txt")) == "model-bytes\n");

    // The same tree again: fetchmld knows its commit, so fetchmlctl submits at once, one call:
    // no MissingBlobs, no upload, no PutManifest (counted in fetchmld's audit lines).
    auto calls = [](const std::string& action) {
        const std::string log = readFile(stack().path("logs/fetchmld.log"));
        std::size_t n = 0;
        for (auto at = log.find("action=" + action + " "); at != std::string::npos;
             at = log.find("action=" + action + " ", at + 1)) {
            ++n;
        }
        return n;
    };
    const std::size_t missing = calls("blobs.missing"), manifests = calls("manifest.put");
    REQUIRE(missing > 0);  // the first queue of the tree asked which blobs to send
    auto again = stack().ctl(
        {"queue", exp.path(), "--image", "rootfs:busybox", "--json", "--", "true"}, true);
    INFO(again.out << again.err);
    REQUIRE(again.exitCode == 0);
    CHECK(json::parse(again.out).at(0).at("commit") == job["commit"]);
    CHECK(calls("blobs.missing") == missing);
    CHECK(calls("manifest.put") == manifests);

    // A changed tree is unknown: it is sent (only the new blob) and then queued.
    writeFile(exp.sub("extra.txt"), "new content\n");
    auto changed = stack().ctl(
        {"queue", exp.path(), "--image", "rootfs:busybox", "--json", "--", "true"}, true);
    INFO(changed.out << changed.err);
    REQUIRE(changed.exitCode == 0);
    CHECK(json::parse(changed.out).at(0).at("commit") != job["commit"]);
    CHECK(calls("blobs.missing") == missing + 1);
    CHECK(calls("manifest.put") == manifests + 1);
}

TEST_CASE("rerun repeats a job exactly; compare shows parameters, metrics and code changes",
          "[stack]") {
    TempDir exp;
    writeFile(exp.sub("train.sh"), "echo fetchml:metric loss=0.$FETCHML_PARAM_seed\n");
    auto first =
        stack().ctl({"queue", exp.path(), "--image", "rootfs:busybox", "--param", "seed=5",
                     "--name", "base", "--priority", "3", "--cpus", "0.5", "--", "sh", "train.sh"},
                    true);
    INFO(first.out << first.err);
    REQUIRE(first.exitCode == 0);
    const std::string id = DevStack::splitLines(first.out).at(0);
    auto original = waitFinished(id);
    REQUIRE(original["state"] == "succeeded");

    auto rerun = stack().ctl({"rerun", id, "--json"}, true);
    INFO(rerun.out << rerun.err);
    REQUIRE(rerun.exitCode == 0);
    const auto again = json::parse(rerun.out);
    const std::string againId = again.at("id");
    CHECK(againId != id);
    for (const char* key : {"commit", "command", "image", "priority", "params", "name", "cpus",
                            "memory_mib", "gpus", "max_runtime_s", "max_retries"}) {
        INFO(key);
        CHECK(again.at(key) == original.at(key));
    }
    auto repeated = waitFinished(againId);
    CHECK(repeated["state"] == "succeeded");
    CHECK(repeated["metrics"] == original["metrics"]);

    // Another parameter and a changed tree: compare shows both, and which files changed.
    writeFile(exp.sub("train.sh"), "echo fetchml:metric loss=0.$FETCHML_PARAM_seed\necho v2\n");
    writeFile(exp.sub("notes.txt"), "second try\n");
    auto third = queue(exp.path(), {"sh", "train.sh"});
    waitFinished(third);
    auto cmp = stack().ctl({"compare", id, againId, third, "--json"}, true);
    INFO(cmp.out << cmp.err);
    REQUIRE(cmp.exitCode == 0);
    const auto out = json::parse(cmp.out);
    std::map<std::string, json> rows;
    for (const auto& row : out.at("rows")) {
        rows[row.at("field")] = row;
    }
    CHECK(rows.at("param seed").at("values") == json::array({"5", "5", ""}));
    CHECK(rows.at("param seed").at("differs") == true);
    // The third has no seed: its script printed loss=0.
    CHECK(rows.at("metric loss").at("values") == json::array({"0.5", "0.5", "0"}));
    CHECK(rows.at("commit").at("differs") == true);
    CHECK(rows.at("image").at("differs") == false);
    CHECK(out.at("code_changes").at(againId).empty());
    CHECK(out.at("code_changes").at(third) == json::parse(R"([{"path":"notes.txt","change":"added"},
                          {"path":"train.sh","change":"modified"}])"));

    // The table form marks the rows that differ.
    auto table = stack().ctl({"compare", id, third}, true);
    REQUIRE(table.exitCode == 0);
    CHECK(table.out.find("* param seed") != std::string::npos);
    CHECK(table.out.find("  image ") != std::string::npos);
    CHECK(table.out.find("A notes.txt") != std::string::npos);
    CHECK(table.out.find("M train.sh") != std::string::npos);

    auto lonely = stack().ctl({"compare", id}, true);
    CHECK(lonely.exitCode != 0);
    CHECK(lonely.err.find("at least two") != std::string::npos);
}

TEST_CASE("datasets: versions, a read-only mount, the exact version recorded, rerun, rm, prune",
          "[stack][data]") {
    TempDir data;
    writeFile(data.sub("train.csv"), "x,y\n1,2\n");
    std::filesystem::create_directories(data.sub("images"));
    writeFile(data.sub("images/a.bin"), std::string(100000, 'a'));
    auto add = [&](const std::string& name) {
        auto r = stack().ctl({"data", "add", data.path(), "--name", name, "--json"}, true);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        return json::parse(r.out);
    };
    const json v1 = add("digits");
    CHECK(v1.at("version") == 1);
    CHECK(v1.at("created") == true);
    CHECK(v1.at("files") == 2);
    // Unchanged: no new version.
    const json same = add("digits");
    CHECK(same.at("version") == 1);
    CHECK(same.at("created") == false);
    writeFile(data.sub("train.csv"), "x,y\n1,2\n3,4\n");
    const json v2 = add("digits");
    CHECK(v2.at("version") == 2);
    CHECK(v2.at("tree") != v1.at("tree"));

    // The job sees the version it named, read-only, and knows which it is.
    TempDir exp;
    writeFile(exp.sub("read.sh"),
              "cat /workspace/data/digits/train.csv > /workspace/results/seen.csv\n"
              "echo \"$FETCHML_DATA\" > /workspace/results/data.txt\n"
              "if touch /workspace/data/digits/new 2>/dev/null; then exit 3; fi\n"
              "if rm /workspace/data/digits/train.csv 2>/dev/null; then exit 4; fi\n");
    auto queueWith = [&](const std::string& ref) {
        auto r = stack().ctl({"queue", exp.path(), "--image", "rootfs:busybox", "--data", ref, "--",
                              "sh", "read.sh"},
                             true);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        return DevStack::splitLines(r.out).at(0);
    };
    auto seen = [&](const std::string& id) {
        TempDir down;
        auto r = stack().ctl({"results", id, "--download", down.path()}, true);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        return readFile(down.sub("seen.csv")) + "|" + readFile(down.sub("data.txt"));
    };
    const std::string old = queueWith("digits@1");
    const std::string latest = queueWith("digits");
    const json oldJob = waitFinished(old);
    const json latestJob = waitFinished(latest);
    INFO(oldJob.dump() << "\n" << latestJob.dump());
    REQUIRE(oldJob.at("state") == "succeeded");
    REQUIRE(latestJob.at("state") == "succeeded");
    CHECK(oldJob.at("data") == json::array({"digits@1"}));
    CHECK(oldJob.at("data_trees").at("digits") == v1.at("tree"));
    CHECK(latestJob.at("data") == json::array({"digits@2"}));
    CHECK(seen(old) == "x,y\n1,2\n|digits@1\n");
    CHECK(seen(latest) == "x,y\n1,2\n3,4\n|digits@2\n");
    // One copy per version, shared by the jobs that read it.
    CHECK(std::filesystem::is_directory(
        stack().path("state/runs/datasets/" + v1.at("tree").get<std::string>())));

    // rerun reads the same version, although a newer one exists.
    auto rerun = stack().ctl({"rerun", old, "--json"}, true);
    INFO(rerun.out << rerun.err);
    REQUIRE(rerun.exitCode == 0);
    const std::string againId = json::parse(rerun.out).at("id");
    const json again = waitFinished(againId);
    CHECK(again.at("state") == "succeeded");
    CHECK(again.at("data") == json::array({"digits@1"}));
    CHECK(seen(againId) == "x,y\n1,2\n|digits@1\n");

    // compare shows the versions side by side.
    auto cmp = stack().ctl({"compare", old, latest}, true);
    INFO(cmp.out << cmp.err);
    REQUIRE(cmp.exitCode == 0);
    CHECK(cmp.out.find("digits@1") != std::string::npos);
    CHECK(cmp.out.find("digits@2") != std::string::npos);

    // Names that do not exist are refused with the field and what is wrong.
    for (const std::string bad : {"nosuch", "digits@9", "../etc"}) {
        auto r = stack().ctl(
            {"queue", exp.path(), "--image", "rootfs:busybox", "--data", bad, "--", "true"}, true);
        INFO(bad << ": " << r.out << r.err);
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("data: ") != std::string::npos);
    }

    // A removed version can no longer be named; the jobs that read it keep their record.
    auto rm = stack().ctl({"data", "rm", "digits@1"}, true);
    INFO(rm.out << rm.err);
    REQUIRE(rm.exitCode == 0);
    auto gone = stack().ctl(
        {"queue", exp.path(), "--image", "rootfs:busybox", "--data", "digits@1", "--", "true"},
        true);
    CHECK(gone.exitCode != 0);
    CHECK(gone.err.find("data: digits@1 does not exist") != std::string::npos);
    auto list = stack().ctl({"data", "list", "--json"}, true);
    REQUIRE(list.exitCode == 0);
    const json listed = json::parse(list.out);
    REQUIRE(listed.size() == 1);
    CHECK(listed.at(0).at("name") == "digits");
    CHECK(listed.at(0).at("version") == 2);
    CHECK(listed.at(0).at("versions") == 1);

    // Once prune has removed the jobs that read version 1, its copy goes; version 2's stays.
    auto prune = stack().ctl({"prune", "--keep-last", "0"});
    INFO(prune.out << prune.err);
    REQUIRE(prune.exitCode == 0);
    CHECK_FALSE(std::filesystem::is_directory(
        stack().path("state/runs/datasets/" + v1.at("tree").get<std::string>())));
    CHECK(std::filesystem::is_directory(
        stack().path("state/runs/datasets/" + v2.at("tree").get<std::string>())));
}

TEST_CASE("a failing job is recorded as failed with its exit code", "[stack]") {
    TempDir exp;
    writeFile(exp.sub("fail.sh"), "echo about to fail >&2\nexit 3\n");
    auto id = queue(exp.path(), {"sh", "fail.sh"});
    auto job = waitFinished(id);
    REQUIRE(job["state"] == "failed");
    REQUIRE(job["exit_code"] == 3);
    auto logs = stack().ctl({"logs", id}, true);
    CHECK(logs.out.find("about to fail") != std::string::npos);
}

TEST_CASE("a running job can be cancelled", "[stack]") {
    TempDir exp;
    writeFile(exp.sub("long.sh"), "echo started\nsleep 600\n");
    auto id = queue(exp.path(), {"sh", "long.sh"});
    REQUIRE(waitUntil([&] { return jobJson(id)["state"] == "running"; }, 300000, 200));
    REQUIRE(waitUntil(
        [&] {
            return stack().ctl({"logs", id}, true).out.find("started") != std::string::npos;
        },
        600000, 200));
    auto c = stack().ctl({"cancel", id}, true);
    INFO(c.out << c.err);
    REQUIRE(c.exitCode == 0);
    auto job = waitFinished(id);
    REQUIRE(job["state"] == "cancelled");
}

TEST_CASE("bad requests get clear errors and the daemons keep serving", "[stack]") {
    auto& s = stack();
    auto health = s.curl("GET", "/health", "", false);
    REQUIRE(health.out.find("\n200") != std::string::npos);

    auto noKey = s.curl("GET", "/v1/jobs", "", false);
    REQUIRE(noKey.out.substr(noKey.out.rfind('\n') + 1) == "401");

    auto badJson = s.curl("POST", "/v1/jobs", "{not json");
    INFO(badJson.out);
    REQUIRE(badJson.out.substr(badJson.out.rfind('\n') + 1) == "400");
    auto body = json::parse(badJson.out.substr(0, badJson.out.rfind('\n')));
    REQUIRE(body["error"]["code"] == "InvalidArgument");
    REQUIRE_FALSE(body["error"]["message"].get<std::string>().empty());

    auto noCommit = s.curl("POST", "/v1/jobs", R"({"command": ["true"]})");
    INFO(noCommit.out);
    REQUIRE(noCommit.out.substr(noCommit.out.rfind('\n') + 1) == "400");
    REQUIRE(noCommit.out.find("commit") != std::string::npos);

    auto missing = s.curl("GET", "/v1/jobs/does-not-exist");
    REQUIRE(missing.out.substr(missing.out.rfind('\n') + 1) == "404");

    // Still serving, over both transports.
    auto list = s.curl("GET", "/v1/jobs");
    REQUIRE(list.out.substr(list.out.rfind('\n') + 1) == "200");
    auto local = s.ctl({"status"});
    INFO(local.err);
    REQUIRE(local.exitCode == 0);
}
