// Several hosts sharing one queue (queue.backend redis): two whole stacks from
// scripts/dev-stack (each its own bus, fetchmld, fetchml-workerd and state directory), one real
// redis-server and one shared store directory. Every job runs exactly once across both hosts;
// a host killed mid-run (fetchmld and fetchml-workerd SIGKILLed) loses its claims when their
// lease runs out and the other host runs those jobs.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/DevStack.hpp"
#include "support/RedisServer.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

class Host : public DevStack {
public:
    Host(const std::string& name, const RedisServer& redis, const std::string& store, int leaseS)
        : DevStack(2, {"FETCHML_DEV_REDIS_URL=" + redis.url(), "FETCHML_DEV_HOST_ID=" + name,
                       "FETCHML_DEV_STORE_DIR=" + store,
                       "FETCHML_DEV_LEASE_S=" + std::to_string(leaseS)}) {
        mkdir(path("exp").c_str(), 0755);
        writeFile(path("exp/run.sh"), "echo \"run $FETCHML_JOB_ID\"\nsleep \"${SLEEP:-0}\"\n");
    }

    CommandResult ctl(std::vector<std::string> args) const {
        args.insert(args.begin(), binaryPath("fetchmlctl"));
        return run(args,
                   {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + path("bus/socket"), "FETCHML_SERVER="});
    }
    /// A sweep of `count` jobs (parameter i = 1..count) sleeping sleepS; their ids.
    std::vector<std::string> sweep(int count, int sleepS) const {
        std::string values;
        for (int i = 1; i <= count; ++i) {
            values += (i > 1 ? "," : "") + std::to_string(i);
        }
        auto r = ctl({"queue", path("exp"), "--image", "rootfs:busybox", "--json", "--param",
                      "i=" + values, "--", "sh", "-c",
                      "SLEEP=" + std::to_string(sleepS) + " sh run.sh"});
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        std::vector<std::string> ids;
        const json out = json::parse(r.out);  // {"sweep": id, "jobs": [ids], "state"}
        for (const auto& id : out.at("jobs")) {
            ids.push_back(id.get<std::string>());
        }
        REQUIRE(ids.size() == static_cast<std::size_t>(count));
        return ids;
    }
    json job(const std::string& id) const {
        auto r = ctl({"status", id, "--json"});
        return r.exitCode == 0 ? json::parse(r.out) : json::object();
    }
    /// One row per line from this host's database (read-only; fetchmld may be running).
    std::vector<std::string> sql(const std::string& query) const {
        auto r = run({"sqlite3", "-readonly", path("state/fetchml.db"), query});
        INFO(r.err);
        REQUIRE(r.exitCode == 0);
        return splitLines(r.out);
    }
    /// Jobs whose run directory is on this host (it started them), attempt directories too.
    std::map<std::string, int> runDirs() const {
        std::map<std::string, int> dirs;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(path("state/runs"), ec)) {
            std::string name = entry.path().filename().string();
            dirs[name.substr(0, name.find('.'))] += 1;
        }
        return dirs;
    }
};

/// The lines of a job's output that the job printed ("run <id>"; podman may add a warning).
std::vector<std::string> runLines(const std::string& log) {
    std::vector<std::string> lines;
    for (const auto& line : DevStack::splitLines(readFile(log))) {
        if (line.rfind("run ", 0) == 0) {
            lines.push_back(line);
        }
    }
    return lines;
}

bool allSucceeded(const Host& origin, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        if (origin.job(id).value("state", "") != "succeeded") {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("two hosts share one queue: 200 jobs, each runs exactly once", "[stack][hosts]") {
    RedisServer redis;
    TempDir shared;
    const std::string store = shared.sub("store");
    Host a("host-a", redis, store, 30);
    Host b("host-b", redis, store, 30);

    // 100 jobs submitted on each host; each host has two slots and claims only what it has
    // room for, so both run jobs of both.
    auto fromA = a.sweep(100, 0);
    auto fromB = b.sweep(100, 0);
    std::set<std::string> all(fromA.begin(), fromA.end());
    all.insert(fromB.begin(), fromB.end());
    REQUIRE(all.size() == 200);  // job ids are unique across the hosts

    // Each origin sees its jobs end (as run by whichever host claimed them).
    REQUIRE(
        waitUntil([&] { return allSucceeded(a, fromA) && allSucceeded(b, fromB); }, 600000, 500));

    // Exactly once: every job has one run directory, on one host, with its own output.
    auto ranA = a.runDirs();
    auto ranB = b.runDirs();
    std::map<std::string, int> runs;
    for (const auto* ran : {&ranA, &ranB}) {
        for (const auto& [id, dirs] : *ran) {
            runs[id] += dirs;
        }
    }
    for (const auto& id : all) {
        INFO(id);
        CHECK(runs[id] == 1);
        const Host& ranOn = ranA.count(id) != 0 ? a : b;
        CHECK(runLines(ranOn.path("state/runs/" + id + "/logs/output.log")) ==
              std::vector<std::string>{"run " + id});
    }
    CHECK(runs.size() == 200);
    CHECK(!ranA.empty());
    CHECK(!ranB.empty());
    // And once in each host's records: one start per job, on the host that ran it.
    for (const Host* host : {&a, &b}) {
        auto starts = host->sql(
            "SELECT j.seq, COUNT(*) FROM job_events e JOIN jobs j ON j.seq = e.job_seq "
            "WHERE e.to_state = 'starting' GROUP BY j.seq HAVING COUNT(*) > 1");
        CHECK(starts.empty());
    }
    // A job submitted on A and run on B says so on A.
    for (const auto& id : fromA) {
        if (ranB.count(id) != 0) {
            auto job = a.job(id);
            CHECK(job.value("host", "") == "host-b");
            break;
        }
    }
    // Nothing is left in the shared queue.
    CHECK(redis.cli({"XLEN", "fetchml:jobs"}).out == "0\n");
}

TEST_CASE("a host killed mid-run loses its jobs to the other host after the lease",
          "[stack][hosts][crash]") {
    RedisServer redis;
    TempDir shared;
    const std::string store = shared.sub("store");
    Host a("host-a", redis, store, 3);
    Host b("host-b", redis, store, 3);

    // Six jobs of 6 s each, submitted on B: two slots per host, so A runs some of them.
    auto ids = b.sweep(6, 6);
    std::vector<std::string> onA;
    REQUIRE(waitUntil(
        [&] {
            onA = a.sql("SELECT seq FROM jobs WHERE state = 'running' AND shared = 0");
            return !onA.empty();
        },
        120000, 100));
    // The host dies: its fetchmld and its worker, without a word to anyone.
    a.command("stop-fetchmld", {"--kill"});
    a.command("stop-workerd", {"--kill"});
    // Jobs A claimed but had not finished (its records, now that it is gone).
    auto unfinished = a.sql(
        "SELECT printf('j%06d', seq) FROM jobs WHERE claim != '' AND state IN "
        "('queued', 'starting', 'running')");
    REQUIRE(!unfinished.empty());

    // B takes them once their lease has run out, runs them, and every job ends succeeded.
    REQUIRE(waitUntil([&] { return allSucceeded(b, ids); }, 300000, 500));
    auto ranB = b.runDirs();
    for (const auto& id : unfinished) {
        INFO(id);
        CHECK(ranB.count(id) == 1);  // run again on B ...
        auto job = b.job(id);
        CHECK(job.value("host", "x").empty());  // ... and recorded as B's own run
        CHECK(runLines(b.path("state/runs/" + id + "/logs/output.log")) ==
              std::vector<std::string>{"run " + id});
    }
    // B ran every job A did not finish and none twice.
    for (const auto& id : ids) {
        INFO(id);
        CHECK(ranB[id] <= 1);
    }
    CHECK(redis.cli({"XLEN", "fetchml:jobs"}).out == "0\n");
}
