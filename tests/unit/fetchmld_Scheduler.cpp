// Unit tests of fetchmld's Scheduler: validation, dispatch by priority within the worker's
// slots, reconciliation after a reconnect, and the mapping of exit reports to states. The
// worker side is the Scheduler's send callback; the database and store are real temp files.
#include <stdlib.h>
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "Database.hpp"
#include "JobStore.hpp"
#include "Scheduler.hpp"
#include "Schema.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;

namespace {

/// A worker with `n` slots and as many CPUs, no memory limit counted and no GPUs.
WorkerCapacity slots(std::uint32_t n) {
    return {n, static_cast<double>(n), 0, {}};
}

struct World {
    explicit World(std::uint32_t maxRunningPerUser = 0) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "fetchmld-ut-XXXXXX").string();
        dir = mkdtemp(tmpl.data());
        db = std::move(Database::open(dir + "/fetchml.db")).value();
        REQUIRE(db->migrate(schedulerMigrations()).ok());
        jobs = std::make_unique<JobStore>(*db, [this] { return now; });
        store = std::make_unique<BlobStore>(std::move(BlobStore::create(dir + "/store")).value());
        scheduler = std::make_unique<Scheduler>(
            *jobs, *store,
            SchedulerOptions{dir + "/runs", "rootfs:busybox", 64, 60, 10, maxRunningPerUser},
            [this](const Job& job) { changes.push_back(job.id + ":" + jobStateName(job.state)); });
        scheduler->setWorkerSend([this](const nlohmann::json& m) {
            sent.push_back(m);
            return true;
        });
        std::filesystem::create_directories(dir + "/runs");
        std::string content = "echo hi\n";
        std::string hash = Sha256::hashBuffer(content);
        REQUIRE(store->putBuffer(content, hash).ok());
        auto manifest =
            Manifest::fromEntries({{"run.sh", Manifest::kModeExecutable, content.size(), hash}});
        REQUIRE(manifest.ok());
        commit = manifest->commitId();
        REQUIRE(jobs->putCommit(commit, manifest->text(), "commit", "alice").ok());
    }
    ~World() { std::filesystem::remove_all(dir); }

    JobSpec spec(const std::string& name, int priority) const {
        JobSpec s;
        s.name = name;
        s.user = "alice";
        s.commit = commit;
        s.command = {"sh", "run.sh"};
        s.priority = priority;
        s.params = {{"lr", "0.1"}};
        return s;
    }

    std::int64_t now = 7;  // the store's clock, ms
    std::string dir, commit;
    std::unique_ptr<Database> db;
    std::unique_ptr<JobStore> jobs;
    std::unique_ptr<BlobStore> store;
    std::unique_ptr<Scheduler> scheduler;
    std::vector<nlohmann::json> sent;
    std::vector<std::string> changes;
};

}  // namespace

TEST_CASE("submissions are validated field by field", "[fetchmld][scheduler]") {
    World w;
    auto noCommand = w.spec("x", 0);
    noCommand.command.clear();
    auto r = w.scheduler->submit(noCommand);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().message.rfind("command:", 0) == 0);

    auto unknown = w.spec("x", 0);
    unknown.commit = std::string(64, 'd');
    CHECK(w.scheduler->submit(unknown).error().message.rfind("commit:", 0) == 0);

    auto badParam = w.spec("x", 0);
    badParam.params = {{"9lives", "1"}};
    CHECK(w.scheduler->submit(badParam).error().message.rfind("params.9lives:", 0) == 0);

    auto badPriority = w.spec("x", 0);
    badPriority.priority = 5000;
    CHECK(w.scheduler->submit(badPriority).error().message.rfind("priority:", 0) == 0);

    CHECK(Scheduler::isValidParamName("_lr2"));
    CHECK_FALSE(Scheduler::isValidParamName("lr-2"));
    CHECK_FALSE(Scheduler::isValidParamName(""));

    auto ok = w.scheduler->submit(w.spec("x", 0));
    REQUIRE(ok.ok());
    CHECK(ok->spec.image == "rootfs:busybox");  // the default image
    CHECK(w.sent.empty());                      // no worker yet
}

TEST_CASE("dispatch fills the worker's slots by priority", "[fetchmld][scheduler]") {
    World w;
    REQUIRE(w.scheduler->submit(w.spec("low", 0)).ok());
    REQUIRE(w.scheduler->submit(w.spec("high", 9)).ok());
    REQUIRE(w.scheduler->submit(w.spec("mid", 3)).ok());
    w.scheduler->workerConnected(slots(2), {});
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[0]["type"] == "run");
    CHECK(w.sent[0]["job"]["id"] == "j000002");
    CHECK(w.sent[1]["job"]["id"] == "j000003");
    const auto& job = w.sent[0]["job"];
    CHECK(job["env"]["FETCHML_JOB_ID"] == "j000002");
    CHECK(job["env"]["FETCHML_PARAM_lr"] == "0.1");
    CHECK(nlohmann::json::parse(job["env"]["FETCHML_PARAMS"].get<std::string>())["lr"] == "0.1");
    CHECK(job["command"] == nlohmann::json({"sh", "run.sh"}));
    std::string runDir = job["run_dir"];
    CHECK(std::filesystem::exists(runDir + "/code/run.sh"));
    struct stat st {};
    REQUIRE(stat(runDir.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 02770);
    CHECK(w.jobs->get("j000002")->state == JobState::Starting);

    w.scheduler->jobStarted("j000002");
    CHECK(w.jobs->get("j000002")->state == JobState::Running);
    w.scheduler->jobExited("j000002", {0, 0, "exited", ""});
    CHECK(w.jobs->get("j000002")->state == JobState::Succeeded);
    REQUIRE(w.sent.size() == 3);  // the freed slot went to the last job
    CHECK(w.sent[2]["job"]["id"] == "j000001");

    w.scheduler->jobExited("j000003", {2, 0, "exited", ""});
    auto failed = w.jobs->get("j000003");
    CHECK(failed->state == JobState::Failed);
    CHECK(failed->exitCode == 2);
    // The worker says "cancelled" twice (reason and message): recorded once.
    w.scheduler->jobExited("j000001", {0, 15, "cancelled", "cancelled"});
    auto cancelled = w.jobs->get("j000001");
    CHECK(cancelled->state == JobState::Cancelled);
    CHECK(cancelled->exitCode == 128 + 15);
    CHECK(cancelled->reason == "cancelled");
}

TEST_CASE("the worker is wanted only while there is work", "[fetchmld][scheduler]") {
    World w;
    int wanted = 0;
    w.scheduler->setWorkerWanted([&] { ++wanted; });
    CHECK_FALSE(w.scheduler->hasWork());
    w.scheduler->dispatch();
    CHECK(wanted == 0);  // an empty queue does not start the socket-activated worker

    auto job = w.scheduler->submit(w.spec("first", 0));
    REQUIRE(job.ok());
    CHECK(wanted == 1);  // the first job asks for the worker
    CHECK(w.scheduler->hasWork());
    CHECK(w.sent.empty());

    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    w.scheduler->jobStarted(job->id);
    CHECK(w.scheduler->hasWork());  // running
    w.scheduler->jobExited(job->id, {0, 0, "exited", ""});
    CHECK_FALSE(w.scheduler->hasWork());
    CHECK(wanted == 1);  // connected: no further requests
}

TEST_CASE("a results directory is ingested when a job ends", "[fetchmld][scheduler]") {
    World w;
    REQUIRE(w.scheduler->submit(w.spec("r", 0)).ok());
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    std::string runDir = w.sent[0]["job"]["run_dir"];
    std::filesystem::create_directories(runDir + "/results");
    {
        std::FILE* f = std::fopen((runDir + "/results/model.txt").c_str(), "w");
        REQUIRE(f != nullptr);
        std::fputs("weights\n", f);
        std::fclose(f);
    }
    w.scheduler->jobExited("j000001", {0, 0, "exited", ""});
    auto job = w.jobs->get("j000001");
    REQUIRE(job.ok());
    REQUIRE(job->results.size() == 64);
    auto manifest = w.jobs->getCommit(job->results);
    REQUIRE(manifest.ok());
    REQUIRE(manifest->has_value());
    CHECK((*manifest)->find("model.txt") != std::string::npos);
    CHECK(w.store->has(Sha256::hashBuffer("weights\n")));
}

TEST_CASE("after a reconnect, jobs the worker lost are failed", "[fetchmld][scheduler]") {
    World w;
    REQUIRE(w.scheduler->submit(w.spec("a", 0)).ok());
    REQUIRE(w.scheduler->submit(w.spec("b", 0)).ok());
    w.scheduler->workerConnected(slots(2), {});
    REQUIRE(w.sent.size() == 2);
    w.scheduler->jobStarted("j000001");
    w.scheduler->workerDisconnected();
    w.sent.clear();
    // The worker comes back still running j000002 but not j000001, plus one not ours.
    w.scheduler->workerConnected(slots(2), {"j000002", "j000099"});
    auto lost = w.jobs->get("j000001");
    CHECK(lost->state == JobState::Failed);
    CHECK(lost->reason == "lost");
    CHECK(w.jobs->get("j000002")->state == JobState::Running);
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0] == nlohmann::json({{"type", "cancel"}, {"id", "j000099"}}));
}

TEST_CASE("a job that ended while fetchmld was away is recorded as it ended, once",
          "[fetchmld][scheduler]") {
    World w;
    REQUIRE(w.scheduler->submit(w.spec("a", 0)).ok());
    REQUIRE(w.scheduler->submit(w.spec("b", 0)).ok());
    w.scheduler->workerConnected(slots(2), {});
    w.scheduler->jobStarted("j000001");
    w.scheduler->jobStarted("j000002");
    w.scheduler->workerDisconnected();
    // Both ended meanwhile; the worker lists them as finished and sends their exits next.
    w.scheduler->workerConnected(slots(2), {}, {"j000001", "j000002"});
    CHECK(w.jobs->get("j000001")->state == JobState::Running);
    CHECK(w.scheduler->jobExited("j000001", {0, 0, "exited", ""}));
    CHECK(w.scheduler->jobExited("j000002", {3, 0, "exited", ""}));
    CHECK(w.jobs->get("j000001")->state == JobState::Succeeded);
    CHECK(w.jobs->get("j000002")->state == JobState::Failed);
    CHECK(w.jobs->get("j000002")->exitCode == 3);
    // Reported again (fetchmld crashed before the worker saw the ack): nothing changes, and
    // the report is acknowledged.
    CHECK(w.scheduler->jobExited("j000001", {1, 0, "exited", ""}));
    CHECK(w.jobs->get("j000001")->state == JobState::Succeeded);
    auto events = w.jobs->events("j000001");
    REQUIRE(events);
    CHECK(std::count_if(events->begin(), events->end(),
                        [](const auto& e) { return e.to == "succeeded"; }) == 1);
}

TEST_CASE("a failing or lost job with retries runs again after a growing backoff",
          "[fetchmld][scheduler][retry]") {
    World w;
    std::vector<std::int64_t> wakeups;
    w.scheduler->setWakeup([&](std::int64_t at) { wakeups.push_back(at); });
    auto spec = w.spec("flaky", 0);
    spec.maxRetries = 2;
    auto job = w.scheduler->submit(spec);
    REQUIRE(job);
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0]["job"]["env"]["FETCHML_ATTEMPT"] == "1");
    w.scheduler->jobStarted(job->id);

    // Attempt 1 fails: queued again, due after retry_delay_s (10 s), nothing sent meanwhile.
    CHECK(w.scheduler->jobExited(job->id, {1, 0, "exited", ""}));
    auto again = w.jobs->get(job->id);
    CHECK(again->state == JobState::Queued);
    CHECK(again->attempt == 2);
    CHECK(again->exitCode == 1);
    CHECK(again->notBefore == w.now + 10000);
    CHECK_THAT(again->reason, Catch::StartsWith("retry 1 of 2 in 10 s after: exited"));
    REQUIRE_FALSE(wakeups.empty());
    CHECK(wakeups.back() == w.now + 10000);
    CHECK(w.sent.size() == 1);

    // Due: dispatched with FETCHML_ATTEMPT=2; it fails too and waits twice as long.
    w.now += 10000;
    w.scheduler->dispatch();
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["env"]["FETCHML_ATTEMPT"] == "2");
    CHECK(w.scheduler->jobExited(job->id, {0, 9, "exited", ""}));
    CHECK(w.jobs->get(job->id)->notBefore == w.now + 20000);
    w.now += 19999;
    w.scheduler->dispatch();
    CHECK(w.sent.size() == 2);
    w.now += 1;
    w.scheduler->dispatch();
    REQUIRE(w.sent.size() == 3);
    w.scheduler->jobStarted(job->id);

    // Attempt 3, the last, is lost with the worker: failed for good.
    w.scheduler->workerDisconnected();
    w.scheduler->workerConnected(slots(1), {});
    auto last = w.jobs->get(job->id);
    CHECK(last->state == JobState::Failed);
    CHECK(last->reason == "lost");
    CHECK(last->attempt == 3);
    auto events = w.jobs->events(job->id);
    REQUIRE(events);
    CHECK(std::count_if(events->begin(), events->end(),
                        [](const auto& e) { return e.to == "starting"; }) == 3);
}

TEST_CASE("a cancelled job is not retried; retries are validated", "[fetchmld][scheduler][retry]") {
    World w;
    auto spec = w.spec("x", 0);
    spec.maxRetries = 3;
    auto job = w.scheduler->submit(spec);
    REQUIRE(job);
    w.scheduler->workerConnected(slots(1), {});
    CHECK(w.scheduler->jobExited(job->id, {0, 15, "cancelled", ""}));
    CHECK(w.jobs->get(job->id)->state == JobState::Cancelled);
    auto tooMany = w.spec("y", 0);
    tooMany.maxRetries = 11;
    auto r = w.scheduler->submit(tooMany);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("max_retries: expected 0 to 10"));
}

TEST_CASE("dependencies hold a job until they end or succeed, and fail it when they cannot",
          "[fetchmld][scheduler][deps]") {
    World w;
    auto a = w.scheduler->submit(w.spec("a", 0));
    REQUIRE(a);
    auto bSpec = w.spec("b", 0);
    bSpec.afterOk = {a->id};
    auto b = w.scheduler->submit(bSpec);
    REQUIRE(b);
    CHECK(b->state == JobState::Held);
    CHECK(b->spec.afterOk == std::vector<std::string>{a->id});
    auto cSpec = w.spec("c", 0);
    cSpec.after = {b->id};
    auto c = w.scheduler->submit(cSpec);
    REQUIRE(c);
    auto dSpec = w.spec("d", 0);
    dSpec.afterOk = {b->id};
    auto d = w.scheduler->submit(dSpec);
    REQUIRE(d);

    // Only a runs; held jobs are never dispatched.
    w.scheduler->workerConnected(slots(4), {});
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0]["job"]["id"] == a->id);
    CHECK(w.scheduler->jobExited(a->id, {0, 0, "exited", ""}));
    // a succeeded: b is released and dispatched; c and d still wait for b.
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["id"] == b->id);
    CHECK(w.jobs->get(c->id)->state == JobState::Held);
    // b fails: c (after: any end) runs, d (after_ok) fails with the reason.
    CHECK(w.scheduler->jobExited(b->id, {2, 0, "exited", ""}));
    CHECK(w.jobs->get(b->id)->state == JobState::Failed);
    REQUIRE(w.sent.size() == 3);
    CHECK(w.sent[2]["job"]["id"] == c->id);
    auto dNow = w.jobs->get(d->id);
    CHECK(dNow->state == JobState::Failed);
    CHECK(dNow->reason == "dependency " + b->id + " failed");

    // Submitting after a job that already succeeded queues at once; after one that already
    // failed fails at once; an unknown id is refused.
    auto eSpec = w.spec("e", 0);
    eSpec.afterOk = {a->id};
    CHECK(w.scheduler->submit(eSpec)->state == JobState::Queued);
    auto fSpec = w.spec("f", 0);
    fSpec.afterOk = {b->id};
    CHECK(w.scheduler->submit(fSpec)->state == JobState::Failed);
    auto gSpec = w.spec("g", 0);
    gSpec.after = {"j999999"};
    auto g = w.scheduler->submit(gSpec);
    REQUIRE_FALSE(g);
    CHECK(g.error().message == "after: job j999999 does not exist");
}

TEST_CASE("cancelling a dependency releases after jobs and fails after_ok jobs",
          "[fetchmld][scheduler][deps]") {
    World w;
    auto a = w.scheduler->submit(w.spec("a", 0));
    auto bSpec = w.spec("b", 0);
    bSpec.after = {a->id};
    auto b = w.scheduler->submit(bSpec);
    auto cSpec = w.spec("c", 0);
    cSpec.afterOk = {a->id};
    auto c = w.scheduler->submit(cSpec);
    REQUIRE((a && b && c));
    REQUIRE(w.scheduler->cancel(a->id));
    CHECK(w.jobs->get(b->id)->state == JobState::Queued);
    CHECK(w.jobs->get(c->id)->state == JobState::Failed);
    // A held job can be cancelled itself.
    auto dSpec = w.spec("d", 0);
    dSpec.afterOk = {b->id};
    auto d = w.scheduler->submit(dSpec);
    REQUIRE(d);
    REQUIRE(w.scheduler->cancel(d->id));
    CHECK(w.jobs->get(d->id)->state == JobState::Cancelled);
}

TEST_CASE("aging lets a long-waiting low-priority job pass newer higher ones",
          "[fetchmld][scheduler][aging]") {
    World w;
    auto old = w.scheduler->submit(w.spec("old", 0));
    REQUIRE(old);
    for (int i = 0; i < 5; ++i) {
        w.scheduler->age();
    }
    CHECK(w.jobs->get(old->id)->effectivePriority == 5);
    CHECK(w.jobs->get(old->id)->spec.priority == 0);
    auto higher = w.scheduler->submit(w.spec("higher", 4));
    auto highest = w.scheduler->submit(w.spec("highest", 9));
    REQUIRE((higher && highest));
    CHECK(higher->effectivePriority == 4);
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0]["job"]["id"] == highest->id);
    CHECK(w.scheduler->jobExited(highest->id, {0, 0, "exited", ""}));
    // 5 (aged from 0) beats 4 (new).
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["id"] == old->id);
    // Running and finished jobs do not age; the cap is kMaxPriority.
    w.scheduler->age();
    CHECK(w.jobs->get(old->id)->effectivePriority == 5);
    CHECK(w.jobs->get(higher->id)->effectivePriority == 5);
    auto top = w.spec("top", Scheduler::kMaxPriority);
    auto t = w.scheduler->submit(top);
    w.scheduler->age();
    CHECK(w.jobs->get(t->id)->effectivePriority == Scheduler::kMaxPriority);
}

TEST_CASE("a user at max_running_per_user waits while other users' jobs start",
          "[fetchmld][scheduler][limits]") {
    World w(2);
    std::vector<std::string> alice;
    for (int i = 0; i < 4; ++i) {
        alice.push_back(w.scheduler->submit(w.spec("a" + std::to_string(i), 5))->id);
    }
    auto bobSpec = w.spec("b", 0);
    bobSpec.user = "bob";
    auto bob = w.scheduler->submit(bobSpec);
    REQUIRE(bob);
    w.scheduler->workerConnected(slots(4), {});
    // Two of alice's (higher priority), then bob's although alice has more queued.
    REQUIRE(w.sent.size() == 3);
    CHECK(w.sent[0]["job"]["id"] == alice[0]);
    CHECK(w.sent[1]["job"]["id"] == alice[1]);
    CHECK(w.sent[2]["job"]["id"] == bob->id);
    CHECK(w.jobs->get(alice[2])->state == JobState::Queued);
    // One of alice's ends: her next one starts.
    CHECK(w.scheduler->jobExited(alice[0], {0, 0, "exited", ""}));
    REQUIRE(w.sent.size() == 4);
    CHECK(w.sent[3]["job"]["id"] == alice[2]);
}

TEST_CASE("a retry keeps the failed attempt's run directory aside",
          "[fetchmld][scheduler][retry]") {
    World w;
    auto spec = w.spec("keep", 0);
    spec.maxRetries = 1;
    auto job = w.scheduler->submit(spec);
    REQUIRE(job);
    w.scheduler->workerConnected(slots(1), {});
    const std::string dir = w.scheduler->runDir(job->id);
    // What the worker and the job wrote during attempt 1, including a read-only directory.
    std::filesystem::create_directories(dir + "/logs");
    { std::ofstream(dir + "/logs/output.log") << "attempt 1\n"; }
    std::filesystem::create_directories(dir + "/results/locked");
    { std::ofstream(dir + "/results/locked/f") << "x"; }
    std::filesystem::permissions(dir + "/results/locked", std::filesystem::perms(0555));
    CHECK(w.scheduler->jobExited(job->id, {1, 0, "exited", ""}));
    w.now += 10000;
    w.scheduler->dispatch();
    REQUIRE(w.sent.size() == 2);
    CHECK(std::filesystem::exists(dir + "/code/run.sh"));
    CHECK_FALSE(std::filesystem::exists(dir + "/logs"));
    std::ifstream old(dir + ".attempt1/logs/output.log");
    std::string line;
    std::getline(old, line);
    CHECK(line == "attempt 1");
    std::filesystem::permissions(dir + ".attempt1/results/locked", std::filesystem::perms(0755));
}

TEST_CASE("resource requests are validated and defaults filled in",
          "[fetchmld][scheduler][resources]") {
    World w;
    auto negative = w.spec("x", 0);
    negative.cpus = -1;
    CHECK_THAT(w.scheduler->submit(negative).error().message, Catch::StartsWith("cpus: expected"));
    auto tooLong = w.spec("x", 0);
    tooLong.maxRuntimeS = 61;  // the World's worker.max_runtime_s is 60
    CHECK_THAT(w.scheduler->submit(tooLong).error().message,
               Catch::StartsWith("max_runtime_s: at most 60 s"));
    auto tooManyGpus = w.spec("x", 0);
    tooManyGpus.gpus = 65;
    CHECK_THAT(w.scheduler->submit(tooManyGpus).error().message, Catch::StartsWith("gpus:"));

    auto plain = w.scheduler->submit(w.spec("x", 0));
    REQUIRE(plain);
    CHECK(plain->spec.cpus == 1);
    CHECK(plain->spec.maxRuntimeS == 60);
    auto asked = w.spec("y", 0);
    asked.cpus = 0.5;
    asked.memoryMib = 2048;
    asked.maxRuntimeS = 30;
    auto stored = w.scheduler->submit(asked);
    REQUIRE(stored);
    auto again = w.jobs->get(stored->id);
    CHECK(again->spec.cpus == 0.5);
    CHECK(again->spec.memoryMib == 2048);
    CHECK(again->spec.maxRuntimeS == 30);
}

TEST_CASE("jobs start only where their CPUs and memory fit", "[fetchmld][scheduler][resources]") {
    World w;
    auto big = w.spec("big", 5);
    big.cpus = 3;
    big.memoryMib = 3000;
    auto small = w.spec("small", 0);
    small.memoryMib = 2000;
    auto bigJob = w.scheduler->submit(big);
    auto smallJob = w.scheduler->submit(small);
    REQUIRE(bigJob);
    REQUIRE(smallJob);
    w.scheduler->workerConnected({4, 4, 4096, {}}, {});
    // big fits; small's memory does not fit beside it.
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0]["job"]["id"] == bigJob->id);
    CHECK(w.sent[0]["job"]["cpus"] == 3.0);
    CHECK(w.sent[0]["job"]["memory_mib"] == 3000);
    CHECK(w.sent[0]["job"]["max_runtime_s"] == 60);
    CHECK(w.jobs->get(smallJob->id)->state == JobState::Queued);
    CHECK(w.scheduler->jobExited(bigJob->id, {0, 0, "exited", ""}));
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["id"] == smallJob->id);
}

TEST_CASE("each GPU device goes to one job at a time, also across a restart",
          "[fetchmld][scheduler][resources]") {
    World w;
    const WorkerCapacity oneGpu{4, 4, 0, {"example.com/gpu=0"}};
    auto gpuSpec = w.spec("gpu", 0);
    gpuSpec.gpus = 1;
    auto first = w.scheduler->submit(gpuSpec);
    auto second = w.scheduler->submit(gpuSpec);
    auto cpuOnly = w.scheduler->submit(w.spec("cpu", 0));
    REQUIRE((first && second && cpuOnly));
    w.scheduler->workerConnected(oneGpu, {});
    // first gets the device; second waits for it; the CPU job goes ahead (backfill).
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[0]["job"]["id"] == first->id);
    CHECK(w.sent[0]["job"]["gpus"] == nlohmann::json::array({"example.com/gpu=0"}));
    CHECK(w.sent[0]["job"]["env"]["FETCHML_GPUS"] == "example.com/gpu=0");
    CHECK(w.sent[1]["job"]["id"] == cpuOnly->id);
    CHECK(w.sent[1]["job"]["gpus"] == nlohmann::json::array());
    CHECK(w.jobs->get(first->id)->devices == std::vector<std::string>{"example.com/gpu=0"});
    REQUIRE(w.scheduler->reservation());
    CHECK(w.scheduler->reservation()->id == second->id);
    auto waits = w.scheduler->waiting(*w.jobs->get(second->id));
    CHECK(waits.reason == "resources: reserved start");
    CHECK(waits.atMs == w.now + 60'000);
    CHECK(w.scheduler->waiting(*w.jobs->get(first->id)).reason.empty());  // not queued
    // A job asking for more GPUs than the worker has never starts here and says so.
    auto greedy = gpuSpec;
    greedy.gpus = 2;
    auto tooBig = w.scheduler->submit(greedy);
    REQUIRE(tooBig);
    CHECK_THAT(w.scheduler->waiting(*w.jobs->get(tooBig->id)).reason,
               Catch::StartsWith("more than the worker has (4 slots, 4 CPUs, 0 MiB, 1 GPUs)"));
    CHECK(w.scheduler->reservation()->id == second->id);
    REQUIRE(w.scheduler->cancel(tooBig->id));

    // fetchmld restarts (a new Scheduler on the same database) while first runs: the device
    // stays first's.
    Scheduler restarted(*w.jobs, *w.store,
                        SchedulerOptions{w.dir + "/runs", "rootfs:busybox", 64, 60, 10, 0},
                        nullptr);
    std::vector<nlohmann::json> sent;
    restarted.setWorkerSend([&sent](const nlohmann::json& m) {
        sent.push_back(m);
        return true;
    });
    restarted.workerConnected(oneGpu, {first->id, cpuOnly->id});
    CHECK(sent.empty());
    CHECK(restarted.jobExited(first->id, {0, 0, "exited", ""}));
    REQUIRE(sent.size() == 1);
    CHECK(sent[0]["job"]["id"] == second->id);
    CHECK(sent[0]["job"]["gpus"] == nlohmann::json::array({"example.com/gpu=0"}));
    CHECK(w.jobs->get(first->id)->devices == std::vector<std::string>{"example.com/gpu=0"});
}

TEST_CASE("a short job backfills behind a waiting large one without delaying it",
          "[fetchmld][scheduler][resources]") {
    World w;
    auto running = w.spec("running", 0);
    running.cpus = 3;  // ends within 60 s
    auto large = w.spec("large", 0);
    large.cpus = 4;
    auto longSmall = w.spec("long", 0);  // 60 s: would still run when large is due
    auto shortSmall = w.spec("short", 0);
    shortSmall.maxRuntimeS = 10;
    auto r = w.scheduler->submit(running);
    REQUIRE(r);
    w.scheduler->workerConnected(slots(4), {});
    REQUIRE(w.sent.size() == 1);
    w.now += 30'000;  // running ends by 30 s from now at the latest
    auto l = w.scheduler->submit(large);
    auto ls = w.scheduler->submit(longSmall);
    auto ss = w.scheduler->submit(shortSmall);
    REQUIRE((l && ls && ss));
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["id"] == ss->id);
    CHECK(w.scheduler->reservation()->id == l->id);
    CHECK(w.scheduler->reservation()->atMs == w.now + 30'000);
    CHECK(w.jobs->get(ls->id)->state == JobState::Queued);
    // Both end: large starts before the long small job.
    CHECK(w.scheduler->jobExited(ss->id, {0, 0, "exited", ""}));
    CHECK(w.scheduler->jobExited(r->id, {0, 0, "exited", ""}));
    REQUIRE(w.sent.size() == 3);
    CHECK(w.sent[2]["job"]["id"] == l->id);
}

TEST_CASE("a sweep is stored as one group and dispatched in one pass", "[fetchmld][sweep]") {
    World w;
    auto templ = w.spec("grid", 4);
    templ.params = {{"seed", "7"}};
    templ.maxRetries = 2;
    auto sweep = w.scheduler->submitSweep(templ, {{"lr", {"0.1", "0.01"}}, {"bs", {"32", "64"}}});
    REQUIRE(sweep.ok());
    CHECK(sweep->id == "s000001");
    REQUIRE(sweep->jobs.size() == 4);
    // The first axis varies slowest; the fixed parameters go to every job.
    using Map = std::map<std::string, std::string>;
    CHECK(sweep->jobs[0].spec.params == Map{{"bs", "32"}, {"lr", "0.1"}, {"seed", "7"}});
    CHECK(sweep->jobs[1].spec.params == Map{{"bs", "64"}, {"lr", "0.1"}, {"seed", "7"}});
    CHECK(sweep->jobs[3].spec.params == Map{{"bs", "64"}, {"lr", "0.01"}, {"seed", "7"}});
    CHECK(w.changes.size() == 4);  // each job announced once
    for (const auto& job : sweep->jobs) {
        auto stored = w.jobs->get(job.id);
        REQUIRE(stored.ok());
        CHECK(stored->state == JobState::Queued);
        CHECK(stored->sweepSeq == sweep->seq);
        CHECK(stored->spec.priority == 4);
        CHECK(stored->spec.maxRetries == 2);
        CHECK(stored->spec.image == "rootfs:busybox");
        CHECK(stored->spec.params == job.spec.params);
    }
    auto listed = w.jobs->list(std::nullopt, 100, "", "", sweep->seq);
    REQUIRE(listed.ok());
    CHECK(listed->size() == 4);
    REQUIRE(w.scheduler->submit(w.spec("alone", 0)).ok());
    CHECK(w.jobs->list(std::nullopt, 100, "", "", sweep->seq)->size() == 4);
    CHECK(w.jobs->get("j000005")->sweepSeq == 0);

    w.scheduler->workerConnected(slots(3), {});
    REQUIRE(w.sent.size() == 3);
    CHECK(w.sent[0]["job"]["id"] == "j000001");
    CHECK(w.sent[0]["job"]["env"]["FETCHML_PARAM_lr"] == "0.1");
    CHECK(w.sent[0]["job"]["env"]["FETCHML_PARAM_bs"] == "32");
}

TEST_CASE("a sweep is accepted as one record and expanded after the answer", "[fetchmld][sweep]") {
    World w;
    int armed = 0;
    w.scheduler->setSweepPending([&armed] { ++armed; });
    REQUIRE(w.scheduler->submit(w.spec("before", 0)).ok());  // j000001
    auto templ = w.spec("grid", 0);
    templ.params.clear();
    auto sweep = w.scheduler->submitSweep(templ, {{"lr", {"1", "2", "3"}}});
    REQUIRE(sweep.ok());
    CHECK(armed == 1);
    CHECK(sweep->jobs.empty());  // the answer: the sweep and its reserved ids
    CHECK(sweep->firstSeq == 2);
    CHECK(sweep->size == 3);
    CHECK(sweep->state == JobState::Queued);
    CHECK(w.jobs->get("j000002").error().code == ErrorCode::NotFound);
    // A job submitted before the expansion takes the next id after the reserved ones.
    auto between = w.scheduler->submit(w.spec("between", 0));
    REQUIRE(between.ok());
    CHECK(between->id == "j000005");

    w.now = 99;  // the jobs keep the time the sweep was accepted
    w.changes.clear();
    w.scheduler->expandPendingSweeps();
    for (int i = 0; i < 3; ++i) {
        auto job = w.jobs->get("j00000" + std::to_string(2 + i));
        REQUIRE(job.ok());
        CHECK(job->sweepSeq == sweep->seq);
        CHECK(job->state == JobState::Queued);
        CHECK(job->submittedAt == 7);
        CHECK(job->spec.params.at("lr") == std::to_string(1 + i));
    }
    CHECK(w.changes ==
          std::vector<std::string>{"j000002:queued", "j000003:queued", "j000004:queued"});
    CHECK(w.jobs->pendingSweeps()->empty());
    w.scheduler->expandPendingSweeps();  // nothing left: nothing stored twice
    CHECK(w.jobs->list(std::nullopt, 100, "", "", sweep->seq)->size() == 3);
    w.scheduler->workerConnected(slots(5), {});
    CHECK(w.sent.size() == 5);
}

TEST_CASE("a sweep accepted before a crash is expanded by the next scheduler",
          "[fetchmld][sweep]") {
    World w;
    w.scheduler->setSweepPending([] {});  // the answer went out; the process dies before
    auto first = w.scheduler->submit(w.spec("first", 0));
    REQUIRE(first.ok());
    auto templ = w.spec("grid", 3);
    templ.params = {{"seed", "1"}};
    templ.after = {first->id};
    auto sweep = w.scheduler->submitSweep(templ, {{"lr", {"1", "2"}}, {"bs", {"8", "16"}}});
    REQUIRE(sweep.ok());
    CHECK(sweep->state == JobState::Held);
    // The dependency ends before the expansion: the jobs have no rows yet to be released by
    // it, so the expansion judges the dependencies again.
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.scheduler->jobExited(first->id, {1, 0, "exited", ""}));

    // A new process: the same database, a new Scheduler (its flag says "look").
    w.scheduler.reset();
    w.sent.clear();
    Scheduler again(*w.jobs, *w.store,
                    SchedulerOptions{w.dir + "/runs", "rootfs:busybox", 64, 60, 10, 0},
                    [&w](const Job& job) { w.changes.push_back(job.id); });
    again.setWorkerSend([&w](const nlohmann::json& m) {
        w.sent.push_back(m);
        return true;
    });
    REQUIRE(w.jobs->pendingSweeps()->size() == 1);
    again.expandPendingSweeps();
    CHECK(w.jobs->pendingSweeps()->empty());
    auto members = w.jobs->sweepMembers(sweep->seq);
    REQUIRE(members.ok());
    REQUIRE(members->size() == 4);
    using Map = std::map<std::string, std::string>;
    CHECK(w.jobs->get("j000003")->spec.params == Map{{"bs", "16"}, {"lr", "1"}, {"seed", "1"}});
    for (const auto& [id, state] : *members) {
        CHECK(state == JobState::Queued);  // its dependency (after) has ended
        auto job = w.jobs->get(id);
        CHECK(job->spec.after == std::vector<std::string>{first->id});
        CHECK(job->spec.priority == 3);
        CHECK(w.jobs->events(id)->front().reason == "dependencies met");
    }
    again.workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0]["job"]["id"] == "j000002");
}

TEST_CASE("a bad sweep is refused whole, naming the field", "[fetchmld][sweep]") {
    World w;
    auto badName = w.scheduler->submitSweep(w.spec("x", 0), {{"9lives", {"1", "2"}}});
    REQUIRE_FALSE(badName.ok());
    CHECK(badName.error().message.rfind("params.9lives:", 0) == 0);
    auto fixedToo = w.scheduler->submitSweep(w.spec("x", 0), {{"lr", {"1", "2"}}});
    REQUIRE_FALSE(fixedToo.ok());
    CHECK(fixedToo.error().message == "sweep.lr: also a fixed parameter");
    std::vector<std::string> hundred(100), hundredOne(101);
    for (std::size_t i = 0; i < hundredOne.size(); ++i) {
        hundredOne[i] = std::to_string(i);
        if (i < 100) {
            hundred[i] = hundredOne[i];
        }
    }
    auto tooBig = w.scheduler->submitSweep(w.spec("x", 0), {{"a", hundred}, {"b", hundredOne}});
    REQUIRE_FALSE(tooBig.ok());
    CHECK(tooBig.error().code == ErrorCode::InvalidArgument);
    CHECK(tooBig.error().message.rfind("sweep:", 0) == 0);
    auto noCommand = w.spec("x", 0);
    noCommand.command.clear();
    CHECK(w.scheduler->submitSweep(noCommand, {{"a", {"1", "2"}}})
              .error()
              .message.rfind("command:", 0) == 0);
    // Nothing of the refused sweeps was stored.
    CHECK(w.jobs->list(std::nullopt, 100)->empty());

    auto atLimit = w.scheduler->submitSweep(w.spec("x", 0), {{"a", hundred}, {"b", hundred}});
    REQUIRE(atLimit.ok());
    CHECK(atLimit->jobs.size() == kMaxSweepJobs);
    CHECK(w.jobs->list(JobState::Queued, 10000)->size() == kMaxSweepJobs);
}

TEST_CASE("dependencies apply to every job of a sweep", "[fetchmld][sweep]") {
    World w;
    auto first = w.scheduler->submit(w.spec("first", 0));
    REQUIRE(first.ok());
    auto templ = w.spec("after", 0);
    templ.params.clear();
    templ.afterOk = {first->id};
    auto held = w.scheduler->submitSweep(templ, {{"lr", {"1", "2", "3"}}});
    REQUIRE(held.ok());
    for (const auto& job : held->jobs) {
        CHECK(w.jobs->get(job.id)->state == JobState::Held);
        CHECK(w.jobs->get(job.id)->spec.afterOk == std::vector<std::string>{first->id});
    }
    w.scheduler->workerConnected(slots(4), {});
    REQUIRE(w.sent.size() == 1);  // only the dependency runs
    w.scheduler->jobExited(first->id, {0, 0, "exited", ""});
    for (const auto& job : held->jobs) {
        CHECK(w.jobs->get(job.id)->state == JobState::Starting);
    }

    // Met already: stored queued at once. Never met: each job fails as a single one would.
    auto met = w.scheduler->submitSweep(templ, {{"lr", {"4", "5"}}});
    REQUIRE(met.ok());
    CHECK(met->jobs[0].state == JobState::Queued);
    auto events = w.jobs->events(met->jobs[0].id);
    REQUIRE(events.ok());
    CHECK(events->front().reason == "dependencies met");
    w.scheduler->jobExited(held->jobs[0].id, {1, 0, "exited", ""});
    templ.afterOk = {held->jobs[0].id};
    auto never = w.scheduler->submitSweep(templ, {{"lr", {"6", "7"}}});
    REQUIRE(never.ok());
    CHECK(never->jobs.front().state == JobState::Failed);  // what SubmitSweep answers
    for (const auto& job : never->jobs) {
        auto stored = w.jobs->get(job.id);
        CHECK(stored->state == JobState::Failed);
        CHECK(stored->reason == "dependency " + held->jobs[0].id + " failed");
    }
}

TEST_CASE("cancelling a sweep ends waiting jobs at once and stops running ones",
          "[fetchmld][sweep]") {
    World w;
    auto other = w.scheduler->submit(w.spec("other", 0));
    REQUIRE(other.ok());
    auto templ = w.spec("grid", 0);
    templ.params.clear();
    auto sweep = w.scheduler->submitSweep(templ, {{"lr", {"1", "2", "3", "4"}}});
    REQUIRE(sweep.ok());
    // A job outside the sweep waits on one of it: cancelling releases it (after).
    auto dependent = w.spec("dependent", 0);
    dependent.after = {sweep->jobs[3].id};
    REQUIRE(w.scheduler->submit(dependent).ok());
    w.scheduler->workerConnected(slots(2), {});
    REQUIRE(w.sent.size() == 2);  // "other" and the sweep's first job
    w.scheduler->jobStarted(sweep->jobs[0].id);
    w.sent.clear();
    w.changes.clear();

    auto cancelled = w.scheduler->cancelSweep(*w.jobs->sweep(sweep->id));
    REQUIRE(cancelled.ok());
    CHECK(cancelled->cancelled ==
          std::vector<std::string>{sweep->jobs[1].id, sweep->jobs[2].id, sweep->jobs[3].id});
    CHECK(cancelled->stopping == std::vector<std::string>{sweep->jobs[0].id});
    CHECK(cancelled->unreachable.empty());
    for (std::size_t i = 1; i < 4; ++i) {
        auto job = w.jobs->get(sweep->jobs[i].id);
        CHECK(job->state == JobState::Cancelled);
        CHECK(job->reason == "cancelled");
        CHECK(job->finishedAt == w.now);
        CHECK(w.jobs->events(job->id)->back().to == "cancelled");
    }
    // The running one is asked to stop; the dependent is released (its dependency ended) and
    // starts in the slot the stopped job frees.
    REQUIRE(w.sent.size() == 1);
    CHECK(w.sent[0] == nlohmann::json{{"type", "cancel"}, {"id", sweep->jobs[0].id}});
    CHECK(w.jobs->get("j000006")->state == JobState::Queued);
    CHECK(w.jobs->get(other->id)->state == JobState::Starting);  // not in the sweep
    w.scheduler->jobExited(sweep->jobs[0].id, {0, 15, "cancelled", ""});
    CHECK(w.jobs->get(sweep->jobs[0].id)->state == JobState::Cancelled);
    CHECK(w.jobs->get("j000006")->state == JobState::Starting);

    // Again: nothing left to cancel; an unknown sweep is NotFound.
    auto again = w.scheduler->cancelSweep(*w.jobs->sweep(sweep->id));
    REQUIRE(again.ok());
    CHECK(again->cancelled.empty());
    CHECK(again->stopping.empty());
    CHECK(w.jobs->sweep("s000009").error().code == ErrorCode::NotFound);
    CHECK(w.jobs->sweep("j000001").error().code == ErrorCode::NotFound);
}

TEST_CASE("a batch of submissions is stored together, announced and dispatched once",
          "[fetchmld][scheduler][batch]") {
    World w;
    CHECK(w.scheduler->batchesSubmissions());
    auto done = w.scheduler->submit(w.spec("done", 0));
    REQUIRE(done);
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 1);
    CHECK(w.scheduler->jobExited(done->id, {0, 0, "exited", ""}));
    w.scheduler->workerDisconnected();
    w.changes.clear();

    auto a = w.scheduler->prepare(w.spec("a", 1));
    REQUIRE(a);
    CHECK(a->image == "rootfs:busybox");  // the defaults are filled in
    CHECK(a->cpus == 1);
    CHECK(a->maxRuntimeS == 60);
    auto afterDone = w.spec("after-done", 0);
    afterDone.afterOk = {done->id};
    auto b = w.scheduler->prepare(afterDone);
    REQUIRE(b);
    auto c = w.scheduler->prepare(w.spec("c", 2));
    REQUIRE(c);
    auto jobs = w.scheduler->submitBatch({*a, *b, *c});
    REQUIRE(jobs);
    REQUIRE(jobs->size() == 3);
    CHECK((*jobs)[0].spec.name == "a");
    CHECK((*jobs)[0].state == JobState::Queued);
    // Held at first, released at once: its dependency succeeded already.
    CHECK((*jobs)[1].spec.name == "after-done");
    CHECK((*jobs)[1].state == JobState::Queued);
    CHECK((*jobs)[2].spec.name == "c");
    CHECK(w.changes == std::vector<std::string>{(*jobs)[0].id + ":queued", (*jobs)[1].id + ":held",
                                                (*jobs)[1].id + ":queued",
                                                (*jobs)[2].id + ":queued"});
    // One dispatch pass: the worker's slot goes to the highest priority (c).
    w.scheduler->workerConnected(slots(1), {});
    REQUIRE(w.sent.size() == 2);
    CHECK(w.sent[1]["job"]["id"] == (*jobs)[2].id);

    // Validation is prepare()'s: the same errors as submit().
    auto bad = w.spec("bad", 0);
    bad.command.clear();
    CHECK(w.scheduler->prepare(bad).error().message == "command: must not be empty");

    // With a shared queue submissions go one by one (ids and publishing come from the queue).
    w.scheduler->setShared(SharedQueueHooks{});
    CHECK_FALSE(w.scheduler->batchesSubmissions());
    CHECK(w.scheduler->submitBatch({*a}).error().code == ErrorCode::Internal);
}
