// Job life cycle through the real stack (scripts/dev-stack: private bus, fetchmld,
// socket-activated fetchml-workerd running rootless podman): retries, dependencies, and crash
// safety (fetchmld or the worker killed with SIGKILL while jobs run, a job ending while
// fetchmld is down). Every job must end recorded as it really ended, and run once at a time.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "support/DevStack.hpp"
#include "support/FakeCdiGpus.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

class Stack : public DevStack {
public:
    /// env: more FETCHML_DEV_* settings for `dev-stack up`.
    explicit Stack(const std::vector<std::string>& env = {}) : DevStack(3, env) {
        mkdir(path("exp").c_str(), 0755);
        writeFile(path("exp/run.sh"),
                  "echo \"start $FETCHML_JOB_ID\"\nsleep \"${SLEEP:-0}\"\necho done\n");
    }

    // fetchmlctl over the stack's bus, as root (a local admin).
    CommandResult ctl(std::vector<std::string> args) const {
        args.insert(args.begin(), binaryPath("fetchmlctl"));
        return run(args,
                   {"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + path("bus/socket"), "FETCHML_SERVER="});
    }
    // Queues `sh -c "BEFORE SLEEP=sleepS sh run.sh"` with extra fetchmlctl options.
    std::string queue(int sleepS, const std::vector<std::string>& options = {},
                      const std::string& before = "") {
        std::vector<std::string> args{"queue", path("exp"), "--image", "rootfs:busybox", "--json"};
        args.insert(args.end(), options.begin(), options.end());
        args.insert(args.end(),
                    {"--", "sh", "-c", before + "SLEEP=" + std::to_string(sleepS) + " sh run.sh"});
        auto r = ctl(args);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        auto out = json::parse(r.out);  // one element per job (a sweep queues several)
        REQUIRE(out.is_array());
        REQUIRE(out.size() == 1);
        return out[0].at("id").get<std::string>();
    }
    json job(const std::string& id) const {
        auto r = ctl({"status", id, "--json"});
        return r.exitCode == 0 ? json::parse(r.out) : json::object();
    }
    std::string state(const std::string& id) const { return job(id).value("state", ""); }
    std::string output(const std::string& id) const {
        return readFile(path("state/runs/" + id + "/logs/output.log"));
    }
    std::string workerLog() const { return readFile(path("logs/workerd.log")); }
};

bool isFinal(const std::string& s) {
    return s == "succeeded" || s == "failed" || s == "cancelled";
}

std::size_t countOf(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("jobs survive fetchmld being killed: running ones finish recorded, none runs twice",
          "[stack][crash]") {
    Stack stack;

    SECTION("a job that ends while fetchmld is dead is recorded as it ended") {
        auto id = stack.queue(3);
        REQUIRE(waitUntil([&] { return stack.state(id) == "running"; }));
        stack.command("stop-fetchmld", {"--kill"});
        // The worker reports the exit to nobody; it keeps it until fetchmld acknowledges it.
        REQUIRE(waitUntil(
            [&] { return stack.workerLog().find("job " + id + ": exited") != std::string::npos; }));
        stack.command("start-fetchmld");
        REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
        auto j = stack.job(id);
        INFO(j.dump());
        CHECK(j.value("state", "") == "succeeded");
        CHECK(j.value("exit_code", -1) == 0);
        CHECK(countOf(stack.output(id), "start " + id) == 1);
    }

    SECTION("SIGKILL to fetchmld again and again while jobs run and queue") {
        std::vector<std::string> ids;
        for (int i = 0; i < 6; ++i) {
            ids.push_back(stack.queue(2));
        }
        // Kill it while the first jobs start and run, and again while later ones are dispatched.
        for (int round = 0; round < 4; ++round) {
            REQUIRE(waitUntil([&] {
                for (const auto& id : ids) {
                    if (stack.state(id) == "running") {
                        return true;
                    }
                }
                return isFinal(stack.state(ids.back()));
            }));
            stack.command("stop-fetchmld", {"--kill"});
            stack.command("start-fetchmld");
        }
        for (const auto& id : ids) {
            REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
            auto j = stack.job(id);
            INFO(id << ": " << j.dump() << "\n" << stack.output(id));
            CHECK(j.value("state", "") == "succeeded");
            // One container per job: its first line appears once.
            CHECK(countOf(stack.output(id), "start " + id) == 1);
            CHECK(countOf(stack.workerLog(), "job " + id + ": started podman") == 1);
        }
    }
}

TEST_CASE("a job queued with retries runs again after a failure, with FETCHML_ATTEMPT",
          "[stack][retry]") {
    Stack stack;
    // Fails on its first attempt, succeeds on its second (retry_delay_s is 1 in dev-stack).
    auto id = stack.queue(0, {"--retries", "2"}, "[ \"$FETCHML_ATTEMPT\" -ge 2 ] || exit 3; ");
    REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
    auto j = stack.job(id);
    INFO(j.dump());
    CHECK(j.value("state", "") == "succeeded");
    CHECK(j.value("attempt", 0) == 2);
    CHECK(j.value("max_retries", 0) == 2);
    auto status = stack.ctl({"status", id});
    CHECK_THAT(status.out, Catch::Contains("attempt:") && Catch::Contains("2 (up to 3)"));
    // Out of range is refused before anything is sent.
    auto bad = stack.ctl({"queue", stack.path("exp"), "--retries", "11", "--", "true"});
    CHECK(bad.exitCode != 0);
    CHECK_THAT(bad.err, Catch::Contains("--retries"));
}

TEST_CASE("SIGKILL to fetchml-workerd: its job is lost and retried, and runs in one container",
          "[stack][crash]") {
    Stack stack;
    auto id = stack.queue(8, {"--retries", "1"});
    REQUIRE(waitUntil([&] { return stack.output(id).find("start " + id) != std::string::npos; }));
    // No systemd here to kill the worker's cgroup: the container of attempt 1 runs on.
    stack.command("stop-workerd", {"--kill"});
    stack.command("start-workerd");
    // fetchmld reconnects, the new worker runs nothing: the job is lost, then retried (the
    // delay is 1 s here) while attempt 1's container still runs; --replace removes it.
    REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
    auto j = stack.job(id);
    INFO(j.dump() << "\n" << stack.workerLog());
    CHECK(j.value("state", "") == "succeeded");
    CHECK(j.value("attempt", 0) == 2);
    CHECK(countOf(stack.workerLog(), "job " + id + ": started podman") == 2);
    CHECK(countOf(stack.output(id), "start " + id) == 1);
}

TEST_CASE("--after-ok holds a job until its dependency succeeds; a failed one fails it",
          "[stack][deps]") {
    Stack stack;
    auto first = stack.queue(2);
    auto second = stack.queue(0, {"--after-ok", first});
    // (That second is stored as held is timing-dependent here; the unit tests [deps] check
    // it. What must hold: it started only after first finished.)
    auto failing = stack.queue(0, {}, "exit 4; ");
    auto never = stack.queue(0, {"--after-ok", failing});
    auto anyway = stack.queue(0, {"--after", failing});
    for (const auto& id : {first, second, failing, never, anyway}) {
        REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
    }
    auto s = stack.job(second);
    CHECK(s.value("state", "") == "succeeded");
    CHECK(s.value("started_at", 0LL) >= stack.job(first).value("finished_at", 0LL));
    CHECK(s.value("after_ok", json::array()) == json::array({first}));
    CHECK(stack.state(never) == "failed");
    CHECK(stack.job(never).value("reason", "") == "dependency " + failing + " failed");
    CHECK(stack.state(anyway) == "succeeded");
    auto unknown = stack.ctl({"queue", stack.path("exp"), "--after", "j999999", "--", "true"});
    CHECK(unknown.exitCode != 0);
    CHECK_THAT(unknown.err, Catch::Contains("after: job j999999 does not exist"));
}

TEST_CASE("GPU jobs each get a device of their own through podman; a third waits for one",
          "[stack][gpus]") {
    if (::geteuid() != 0) {
        WARN("needs root to write a CDI spec to /var/run/cdi; skipped");
        return;
    }
    TempDir cdi;
    ::chmod(cdi.path().c_str(), 0755);  // the worker user reads the spec copy
    FakeCdiGpus gpus(cdi.sub("specs"));
    Stack stack({"FETCHML_DEV_CDI_SPEC_DIRS=" + cdi.sub("specs")});
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        ids.push_back(stack.queue(2, {"--gpus", "1", "--memory", "64M", "--time", "10m"},
                                  "echo device=$FETCHML_TEST_GPU as $FETCHML_GPUS; "));
    }
    for (const auto& id : ids) {
        REQUIRE(waitUntil([&] { return isFinal(stack.state(id)); }));
    }
    std::vector<json> jobs;
    for (const auto& id : ids) {
        auto j = stack.job(id);
        INFO(id << ": " << j.dump() << "\n" << stack.output(id));
        CHECK(j.value("state", "") == "succeeded");
        CHECK(j.value("memory_mib", 0) == 64);
        CHECK(j.value("max_runtime_s", 0) == 600);
        REQUIRE(j.value("devices", json::array()).size() == 1);
        const std::string device = j["devices"][0].get<std::string>();
        // podman applied that device's CDI edits, and the job was told its name.
        const std::string index = device.substr(device.find('=') + 1);
        CHECK_THAT(stack.output(id), Catch::Contains("device=" + index + " as " + device));
        jobs.push_back(j);
    }
    // Two jobs with the same device never ran at the same time.
    for (std::size_t a = 0; a < jobs.size(); ++a) {
        for (std::size_t b = a + 1; b < jobs.size(); ++b) {
            if (jobs[a]["devices"] == jobs[b]["devices"]) {
                const auto& [first, second] =
                    jobs[a].value("started_at", 0LL) <= jobs[b].value("started_at", 0LL)
                        ? std::pair{jobs[a], jobs[b]}
                        : std::pair{jobs[b], jobs[a]};
                CHECK(second.value("started_at", 0LL) >= first.value("finished_at", 0LL));
            }
        }
    }
    auto status = stack.ctl({"status", ids[0]});
    CHECK_THAT(status.out,
               Catch::Contains("needs:") && Catch::Contains("1 GPU (test.fetchml.org/gpu="));
}
