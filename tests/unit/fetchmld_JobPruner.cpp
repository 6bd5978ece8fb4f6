// Unit tests of fetchmld's JobPruner on a temporary database and runs directory: which finished
// jobs --older-than, --keep-last and --state select, that unfinished jobs and jobs a held job
// waits on stay, and that rows and run directories go (a dry run removes nothing).
#include <stdlib.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "JobPruner.hpp"
#include "JobStore.hpp"
#include "fetchmld_TempDb.hpp"

using namespace fetchml;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDay = 86'400'000;

struct World {
    World()
        : jobs(*t.db, [this] { return now; }),
          pruner(*t.db, t.dir + "/runs", [this] { return now; }) {
        fs::create_directories(t.dir + "/runs");
    }

    JobSpec spec(const std::string& name) const {
        JobSpec s;
        s.name = name;
        s.user = "alice";
        s.commit = std::string(64, 'a');
        s.command = {"sh", "run.sh"};
        s.image = "rootfs:busybox";
        return s;
    }

    /// A job that ends in `state` at `finishedAt` with a run directory holding a log.
    std::string finished(JobState state, std::int64_t finishedAt) {
        auto job = jobs.submit(spec("x"));
        REQUIRE(job.ok());
        now = finishedAt;
        if (state != JobState::Cancelled) {
            REQUIRE(jobs.transition(job->id, JobState::Starting, {}).ok());
            REQUIRE(jobs.transition(job->id, JobState::Running, {}).ok());
        }
        REQUIRE(jobs.transition(job->id, state, {0, "exited"}).ok());
        REQUIRE(jobs.addMetrics(job->id, 1, {{"loss", 0.5}}).ok());
        fs::create_directories(runDir(job->id) + "/logs");
        std::ofstream(runDir(job->id) + "/logs/output.log") << "hello\n";
        return job->id;
    }

    std::string runDir(const std::string& id) const { return t.dir + "/runs/" + id; }

    std::int64_t count(const std::string& table) {
        auto stmt = t.db->prepare("SELECT COUNT(*) FROM " + table);
        REQUIRE(stmt.ok());
        REQUIRE(*(*stmt)->step());
        std::int64_t n = (*stmt)->int64(0);
        (*stmt)->reset();
        return n;
    }

    TempDb t;
    std::int64_t now = 1;
    JobStore jobs;
    JobPruner pruner;
};

}  // namespace

TEST_CASE("prune removes old finished jobs with their rows and run directories",
          "[fetchmld][prune]") {
    World w;
    const std::string old1 = w.finished(JobState::Succeeded, 1 * kDay);
    const std::string old2 = w.finished(JobState::Failed, 2 * kDay);
    const std::string recent = w.finished(JobState::Cancelled, 40 * kDay);
    auto queued = w.jobs.submit(w.spec("queued"));
    auto running = w.jobs.submit(w.spec("running"));
    REQUIRE(queued.ok());
    REQUIRE(running.ok());
    REQUIRE(w.jobs.transition(running->id, JobState::Starting, {}).ok());
    // Directories kept from retries and a stale one go with the job.
    fs::create_directories(w.runDir(old2) + ".stale");
    REQUIRE(w.t.db->exec("UPDATE jobs SET attempt = 3 WHERE seq = 2").ok());
    fs::create_directories(w.runDir(old2) + ".attempt1/logs");
    fs::create_directories(w.runDir(old2) + ".attempt2");
    w.now = 45 * kDay;

    PruneFilter filter;
    filter.olderThanMs = 30 * kDay;
    filter.dryRun = true;
    auto dry = w.pruner.prune(filter);
    REQUIRE(dry.ok());
    CHECK(dry->pruned == std::vector<std::string>{old2, old1});  // latest finish first
    CHECK(w.jobs.get(old1).ok());
    CHECK(fs::exists(w.runDir(old1)));

    filter.dryRun = false;
    auto done = w.pruner.prune(filter);
    REQUIRE(done.ok());
    CHECK(done->pruned == std::vector<std::string>{old2, old1});
    CHECK(done->dirsLeft.empty());
    CHECK(w.jobs.get(old1).error().code == ErrorCode::NotFound);
    CHECK(w.jobs.get(old2).error().code == ErrorCode::NotFound);
    for (const std::string suffix : {"", ".stale", ".attempt1", ".attempt2"}) {
        CHECK_FALSE(fs::exists(w.runDir(old2) + suffix));
    }
    CHECK_FALSE(fs::exists(w.runDir(old1)));
    CHECK(fs::exists(w.runDir(recent) + "/logs/output.log"));
    // Only the three remaining jobs' events and metrics are left.
    CHECK(w.count("jobs") == 3);
    CHECK(w.count("metrics") == 1);
    auto left = w.t.db->prepare("SELECT COUNT(*) FROM job_events WHERE job_seq IN (1, 2)");
    REQUIRE(left.ok());
    REQUIRE(*(*left)->step());
    CHECK((*left)->int64(0) == 0);
    (*left)->reset();

    // Without an age every finished job matches, never an unfinished one.
    auto all = w.pruner.prune(PruneFilter{});
    REQUIRE(all.ok());
    CHECK(all->pruned == std::vector<std::string>{recent});
    CHECK(w.jobs.get(queued->id)->state == JobState::Queued);
    CHECK(w.jobs.get(running->id)->state == JobState::Starting);
}

TEST_CASE("prune keeps the last N finished jobs and filters by state", "[fetchmld][prune]") {
    World w;
    std::vector<std::string> ids;
    for (int day = 1; day <= 6; ++day) {
        ids.push_back(
            w.finished(day % 2 == 0 ? JobState::Failed : JobState::Succeeded, day * kDay));
    }
    w.now = 100 * kDay;

    PruneFilter failedOnly;
    failedOnly.states = {JobState::Failed};
    failedOnly.keepLast = 1;  // of the failed ones: day 6 stays
    failedOnly.dryRun = true;
    auto r = w.pruner.prune(failedOnly);
    REQUIRE(r.ok());
    CHECK(r->pruned == std::vector<std::string>{ids[3], ids[1]});

    // keep-last applies before the age: the 2 newest stay however old they are.
    PruneFilter keep;
    keep.keepLast = 2;
    keep.olderThanMs = 97 * kDay;  // finished on day 3 or before
    auto kept = w.pruner.prune(keep);
    REQUIRE(kept.ok());
    CHECK(kept->pruned == std::vector<std::string>{ids[2], ids[1], ids[0]});
    PruneFilter rest;
    rest.keepLast = 2;
    auto more = w.pruner.prune(rest);
    REQUIRE(more.ok());
    CHECK(more->pruned == std::vector<std::string>{ids[3]});
    CHECK(w.jobs.get(ids[4]).ok());
    CHECK(w.jobs.get(ids[5]).ok());

    PruneFilter bad;
    bad.states = {JobState::Running};
    auto refused = w.pruner.prune(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::InvalidArgument);
    CHECK(refused.error().message.rfind("states: running", 0) == 0);
}

TEST_CASE("prune keeps a finished job a held job still waits on", "[fetchmld][prune]") {
    World w;
    const std::string done = w.finished(JobState::Succeeded, 1 * kDay);
    auto runningDep = w.jobs.submit(w.spec("long"));
    REQUIRE(runningDep.ok());
    auto held = w.spec("held");
    held.afterOk = {done};
    held.after = {runningDep->id};
    auto waiting = w.jobs.submit(held);
    REQUIRE(waiting.ok());
    REQUIRE(waiting->state == JobState::Held);
    w.now = 10 * kDay;

    auto r = w.pruner.prune(PruneFilter{});
    REQUIRE(r.ok());
    CHECK(r->pruned.empty());
    CHECK(r->keptForDependents == std::vector<std::string>{done});
    CHECK(w.jobs.get(done).ok());

    // Once the dependent is no longer held, the dependency may go; the dependent's own
    // record of what it waited for stays.
    REQUIRE(w.jobs.transition(waiting->id, JobState::Cancelled, {std::nullopt, "x"}).ok());
    auto again = w.pruner.prune(PruneFilter{});
    REQUIRE(again.ok());
    CHECK(again->pruned == std::vector<std::string>{waiting->id, done});
}

TEST_CASE("a sweep goes when its last job is pruned", "[fetchmld][prune][sweep]") {
    World w;
    auto sweep = w.jobs.submitSweep({w.spec("a"), w.spec("b")}, JobState::Queued);
    REQUIRE(sweep.ok());
    REQUIRE(w.jobs.cancelWaiting(sweep->seq).ok());
    CHECK(w.count("sweeps") == 1);
    PruneFilter one;
    one.keepLast = 1;
    REQUIRE(w.pruner.prune(one).ok());
    CHECK(w.count("sweeps") == 1);
    CHECK(w.jobs.sweep(sweep->id).ok());
    REQUIRE(w.pruner.prune(PruneFilter{}).ok());
    CHECK(w.count("sweeps") == 0);
    CHECK(w.jobs.sweep(sweep->id).error().code == ErrorCode::NotFound);
}
