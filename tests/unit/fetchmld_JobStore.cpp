// Unit tests of fetchmld's JobStore and Database on a temporary SQLite file.
#include <stdlib.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "JobStore.hpp"
#include "fetchmld_TempDb.hpp"

using namespace fetchml;

namespace {

JobSpec spec(const std::string& name, int priority) {
    JobSpec s;
    s.name = name;
    s.user = "alice";
    s.commit = std::string(64, 'a');
    s.command = {"python3", "train.py"};
    s.image = "rootfs:busybox";
    s.priority = priority;
    s.params = {{"lr", "0.1"}};
    return s;
}

}  // namespace

TEST_CASE("migrations are idempotent", "[fetchmld][jobstore]") {
    TempDb t;
    auto version = t.db->schemaVersion();
    REQUIRE(version.ok());
    CHECK(*version == static_cast<int>(schedulerMigrations().size()));
    REQUIRE(t.db->migrate(schedulerMigrations()).ok());
    CHECK(*t.db->schemaVersion() == *version);

    // A second connection to the same file sees the schema and does not re-apply it.
    auto again = Database::open(t.dir + "/fetchml.db");
    REQUIRE(again.ok());
    REQUIRE((*again)->migrate(schedulerMigrations()).ok());
    CHECK(*(*again)->schemaVersion() == *version);
}

TEST_CASE("submitted jobs are stored with their fields", "[fetchmld][jobstore]") {
    TempDb t;
    std::int64_t now = 1000;
    JobStore store(*t.db, [&] { return now; });
    auto job = store.submit(spec("first", 0));
    REQUIRE(job.ok());
    CHECK(job->id == "j000001");
    CHECK(job->state == JobState::Queued);
    CHECK(job->submittedAt == 1000);
    CHECK(job->spec.command == std::vector<std::string>{"python3", "train.py"});
    CHECK(job->spec.params.at("lr") == "0.1");
    auto loaded = store.get("j000001");
    REQUIRE(loaded.ok());
    CHECK(loaded->spec.name == "first");
    CHECK(store.get("j000099").error().code == ErrorCode::NotFound);
    CHECK(store.get("nonsense").error().code == ErrorCode::NotFound);
}

TEST_CASE("queue order: priority first, then submission order", "[fetchmld][jobstore]") {
    TempDb t;
    JobStore store(*t.db, [] { return std::int64_t{5}; });
    REQUIRE(store.submit(spec("low-1", 0)).ok());
    REQUIRE(store.submit(spec("high-1", 10)).ok());
    REQUIRE(store.submit(spec("low-2", 0)).ok());
    REQUIRE(store.submit(spec("high-2", 10)).ok());
    REQUIRE(store.submit(spec("negative", -5)).ok());

    std::vector<std::string> order;
    while (true) {
        auto next = store.nextQueued();
        REQUIRE(next.ok());
        if (!*next) {
            break;
        }
        order.push_back((*next)->spec.name);
        REQUIRE(store.transition((*next)->id, JobState::Starting, {}).ok());
    }
    CHECK(order == std::vector<std::string>{"high-1", "high-2", "low-1", "low-2", "negative"});
}

TEST_CASE("every transition is recorded as an event", "[fetchmld][jobstore]") {
    TempDb t;
    std::int64_t now = 100;
    JobStore store(*t.db, [&] { return now; });
    auto job = store.submit(spec("run", 0));
    REQUIRE(job.ok());
    now = 200;
    REQUIRE(store.transition(job->id, JobState::Starting, {}).ok());
    now = 300;
    REQUIRE(store.transition(job->id, JobState::Running, {}).ok());
    now = 400;
    auto done = store.transition(job->id, JobState::Failed, {1, "exited"});
    REQUIRE(done.ok());
    CHECK(done->exitCode == 1);
    CHECK(done->reason == "exited");
    CHECK(done->startedAt == 200);
    CHECK(done->finishedAt == 400);

    auto events = store.events(job->id);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 4);
    CHECK((*events)[0].from == "");
    CHECK((*events)[0].to == "queued");
    CHECK((*events)[1].to == "starting");
    CHECK((*events)[2].to == "running");
    CHECK((*events)[3].from == "running");
    CHECK((*events)[3].to == "failed");
    CHECK((*events)[3].reason == "exited");
    CHECK((*events)[3].at == 400);

    auto illegal = store.transition(job->id, JobState::Running, {});
    REQUIRE_FALSE(illegal.ok());
    CHECK(illegal.error().code == ErrorCode::InvalidArgument);
    CHECK(store.events(job->id)->size() == 4);
}

TEST_CASE("list is newest first and filters by state", "[fetchmld][jobstore]") {
    TempDb t;
    JobStore store(*t.db, [] { return std::int64_t{1}; });
    for (int i = 0; i < 5; ++i) {
        REQUIRE(store.submit(spec("job" + std::to_string(i), 0)).ok());
    }
    REQUIRE(store.transition("j000002", JobState::Cancelled, {std::nullopt, "cancelled"}).ok());
    auto all = store.list(std::nullopt, 3);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);
    CHECK((*all)[0].id == "j000005");
    CHECK((*all)[2].id == "j000003");
    auto cancelled = store.list(JobState::Cancelled, 100);
    REQUIRE(cancelled.ok());
    REQUIRE(cancelled->size() == 1);
    CHECK(cancelled->front().id == "j000002");
    // Paging: the next page starts before the last id of the previous one.
    auto next = store.list(std::nullopt, 3, "", (*all)[2].id);
    REQUIRE(next.ok());
    REQUIRE(next->size() == 2);
    CHECK((*next)[0].id == "j000002");
    CHECK((*next)[1].id == "j000001");
    auto queuedBefore = store.list(JobState::Queued, 10, "", "j000004");
    REQUIRE(queuedBefore.ok());
    REQUIRE(queuedBefore->size() == 2);
    CHECK((*queuedBefore)[0].id == "j000003");
    CHECK((*queuedBefore)[1].id == "j000001");
}

TEST_CASE("metrics keep the last value of each name", "[fetchmld][jobstore]") {
    TempDb t;
    JobStore store(*t.db, [] { return std::int64_t{1}; });
    auto job = store.submit(spec("m", 0));
    REQUIRE(job.ok());
    REQUIRE(store.addMetrics(job->id, 1, {{"loss", 0.9}, {"acc", 0.5}}).ok());
    REQUIRE(store.addMetrics(job->id, 2, {{"loss", 0.4}}).ok());
    auto loaded = store.get(job->id);
    REQUIRE(loaded.ok());
    CHECK(loaded->metrics.at("loss") == Approx(0.4));
    CHECK(loaded->metrics.at("acc") == Approx(0.5));
    CHECK(store.addMetrics("j000077", 1, {{"loss", 1.0}}).error().code == ErrorCode::NotFound);
}

TEST_CASE("commits are stored once", "[fetchmld][jobstore]") {
    TempDb t;
    JobStore store(*t.db, [] { return std::int64_t{1}; });
    std::string id(64, 'b');
    REQUIRE(store.putCommit(id, "fetchml-manifest 1\n", "commit", "alice").ok());
    REQUIRE(store.putCommit(id, "fetchml-manifest 1\n", "commit", "bob").ok());
    auto text = store.getCommit(id);
    REQUIRE(text.ok());
    REQUIRE(text->has_value());
    CHECK(**text == "fetchml-manifest 1\n");
    CHECK_FALSE(store.getCommit(std::string(64, 'c'))->has_value());
}

TEST_CASE("a reserved sweep keeps its job ids across a reopen until it is expanded",
          "[fetchmld][jobstore][sweep]") {
    TempDb t;
    std::int64_t now = 40;
    std::vector<JobSpec> specs(2, spec("grid", 0));
    specs[1].params = {{"lr", "0.2"}};
    {
        JobStore store(*t.db, [&] { return now; });
        // No job ever stored: the reserved ids start at 1.
        CHECK_FALSE(store.reserveSweep("alice", 0, "{}").ok());
        CHECK_FALSE(store.reserveSweep("alice", 2, "").ok());
        auto sweep = store.reserveSweep("alice", 2, R"({"plan":1})");
        REQUIRE(sweep.ok());
        CHECK(sweep->firstSeq == 1);
        CHECK(sweep->id == "s000001");
        CHECK(store.sweepMembers(sweep->seq)->empty());
    }
    auto db = Database::open(t.dir + "/fetchml.db");  // another process, later
    REQUIRE(db.ok());
    now = 41;
    JobStore store(**db, [&] { return now; });
    auto pending = store.pendingSweeps();
    REQUIRE(pending.ok());
    REQUIRE(pending->size() == 1);
    const SweepRecord& sweep = pending->front().first;
    CHECK(pending->front().second == R"({"plan":1})");
    CHECK(sweep.createdAt == 40);
    CHECK(sweep.firstSeq == 1);
    auto single = store.submit(spec("single", 0));  // after the reserved ids
    REQUIRE(single.ok());
    CHECK(single->id == "j000003");

    CHECK(store.expandSweep(sweep, {specs[0]}, JobState::Queued).error().code ==
          ErrorCode::InvalidArgument);
    auto expanded = store.expandSweep(sweep, specs, JobState::Held, "waits");
    REQUIRE(expanded.ok());
    REQUIRE(expanded->jobs.size() == 2);
    CHECK(expanded->jobs[1].id == "j000002");
    auto second = store.get("j000002");
    REQUIRE(second.ok());
    CHECK(second->state == JobState::Held);
    CHECK(second->submittedAt == 40);
    CHECK(second->spec.params.at("lr") == "0.2");
    CHECK(store.events("j000001")->front().reason == "waits");
    CHECK(store.pendingSweeps()->empty());
    // Expanding twice stores nothing twice.
    CHECK(store.expandSweep(sweep, specs, JobState::Queued).error().code == ErrorCode::NotFound);
    CHECK(store.sweepMembers(sweep.seq)->size() == 2);
    // A later reservation starts after every id used so far.
    auto next = store.reserveSweep("alice", 5, "{}");
    REQUIRE(next.ok());
    CHECK(next->firstSeq == 4);
    // The highest id used or reserved (what a shared queue starts above): its last job's.
    CHECK(*store.maxSeq() == 8);
    CHECK(store.submit(spec("after", 0))->id == "j000009");
}

TEST_CASE("a sweep and its jobs are stored in one transaction", "[fetchmld][jobstore][sweep]") {
    TempDb t;
    std::int64_t now = 50;
    JobStore store(*t.db, [&] { return now; });
    REQUIRE(store.submit(spec("before", 0)).ok());
    std::vector<JobSpec> specs;
    for (int i = 0; i < 3; ++i) {
        specs.push_back(spec("grid", 2));
        specs.back().params = {{"lr", std::to_string(i)}};
    }
    auto sweep = store.submitSweep(specs, JobState::Queued);
    REQUIRE(sweep.ok());
    CHECK(sweep->id == "s000001");
    CHECK(sweep->size == 3);
    REQUIRE(sweep->jobs.size() == 3);
    CHECK(sweep->jobs[0].id == "j000002");
    CHECK(sweep->jobs[2].id == "j000004");
    auto stored = store.get("j000003");
    REQUIRE(stored.ok());
    CHECK(stored->sweepSeq == sweep->seq);
    CHECK(stored->spec.params.at("lr") == "1");
    CHECK(stored->submittedAt == 50);
    CHECK(store.events("j000003")->front().to == "queued");
    CHECK(store.get("j000001")->sweepSeq == 0);

    auto info = store.sweep("s000001");
    REQUIRE(info.ok());
    CHECK(info->user == "alice");
    CHECK(info->size == 3);
    CHECK(info->createdAt == 50);
    CHECK(store.sweep("s000002").error().code == ErrorCode::NotFound);

    auto members = store.list(std::nullopt, 10, "", "", sweep->seq);
    REQUIRE(members.ok());
    REQUIRE(members->size() == 3);
    CHECK((*members)[0].id == "j000004");  // newest first, as every listing

    // A failure inside the transaction stores nothing, not even the sweep row.
    REQUIRE(t.db->exec("CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.params LIKE "
                       "'%boom%' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                .ok());
    specs[2].params = {{"lr", "boom"}};
    CHECK_FALSE(store.submitSweep(specs, JobState::Queued).ok());
    CHECK(store.list(std::nullopt, 100)->size() == 4);
    CHECK(store.sweep("s000002").error().code == ErrorCode::NotFound);
}

TEST_CASE("cancelWaiting cancels only the sweep's queued and held jobs",
          "[fetchmld][jobstore][sweep]") {
    TempDb t;
    std::int64_t now = 5;
    JobStore store(*t.db, [&] { return now; });
    auto outside = store.submit(spec("outside", 0));
    REQUIRE(outside.ok());
    auto sweep = store.submitSweep({spec("a", 0), spec("b", 0), spec("c", 0)}, JobState::Queued);
    REQUIRE(sweep.ok());
    REQUIRE(store.transition(sweep->jobs[0].id, JobState::Starting, {}).ok());
    now = 9;
    auto cancelled = store.cancelWaiting(sweep->seq);
    REQUIRE(cancelled.ok());
    CHECK(*cancelled == std::vector<std::string>{sweep->jobs[1].id, sweep->jobs[2].id});
    auto c = store.get(sweep->jobs[2].id);
    CHECK(c->state == JobState::Cancelled);
    CHECK(c->finishedAt == 9);
    auto events = store.events(c->id);
    REQUIRE(events->size() == 2);
    CHECK(events->back().from == "queued");
    CHECK(events->back().to == "cancelled");
    CHECK(store.get(sweep->jobs[0].id)->state == JobState::Starting);
    CHECK(store.get(outside->id)->state == JobState::Queued);
    auto members = store.sweepMembers(sweep->seq);
    REQUIRE(members.ok());
    REQUIRE(members->size() == 3);
    CHECK((*members)[0].second == JobState::Starting);
}

TEST_CASE("a database from before sweeps gains them without losing jobs", "[fetchmld][jobstore]") {
    TempDb t;
    auto path = t.dir + "/old.db";
    {
        auto old = Database::open(path);
        REQUIRE(old.ok());
        // Every migration but the last (the sweeps one, whatever its number after merges).
        auto before = schedulerMigrations();
        before.pop_back();
        REQUIRE((*old)->migrate(before).ok());
        REQUIRE((*old)
                    ->exec("INSERT INTO jobs (user, state, commit_id, command, image, "
                           "submitted_at) VALUES ('bob', 'queued', 'c', '[\"x\"]', 'i', 1)")
                    .ok());
    }
    auto db = Database::open(path);
    REQUIRE(db.ok());
    REQUIRE((*db)->migrate(schedulerMigrations()).ok());
    JobStore store(**db);
    auto job = store.get("j000001");
    REQUIRE(job.ok());
    CHECK(job->sweepSeq == 0);
    CHECK(job->spec.user == "bob");
}

TEST_CASE("submitMany stores a batch in one transaction, in order", "[fetchmld][jobstore]") {
    TempDb t;
    std::int64_t now = 2000;
    JobStore store(*t.db, [&] { return now; });
    REQUIRE(store.submit(spec("before", 0)).ok());
    auto held = spec("held", 1);
    held.after = {"j000001"};
    auto jobs = store.submitMany({spec("a", 3), held, spec("c", -2)});
    REQUIRE(jobs.ok());
    REQUIRE(jobs->size() == 3);
    CHECK((*jobs)[0].id == "j000002");
    CHECK((*jobs)[0].spec.name == "a");
    CHECK((*jobs)[0].spec.priority == 3);
    CHECK((*jobs)[0].state == JobState::Queued);
    CHECK((*jobs)[1].id == "j000003");
    CHECK((*jobs)[1].state == JobState::Held);
    CHECK((*jobs)[1].spec.after == std::vector<std::string>{"j000001"});
    CHECK((*jobs)[2].id == "j000004");
    CHECK((*jobs)[2].spec.priority == -2);
    for (const auto& job : *jobs) {
        CHECK(job.submittedAt == 2000);
        auto loaded = store.get(job.id);
        REQUIRE(loaded.ok());
        CHECK(loaded->spec.name == job.spec.name);
        auto events = store.events(job.id);
        REQUIRE(events.ok());
        REQUIRE(events->size() == 1);
        CHECK(events->front().from.empty());
    }
    CHECK(store.submitMany({})->empty());
}

TEST_CASE("a batch that fails stores none of its jobs", "[fetchmld][jobstore]") {
    TempDb t;
    JobStore store(*t.db, [] { return std::int64_t{1}; });
    // The third insert of the batch fails inside the transaction.
    REQUIRE(t.db->exec("CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.name = 'bad' "
                       "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                .ok());
    auto jobs = store.submitMany({spec("a", 0), spec("b", 0), spec("bad", 0), spec("d", 0)});
    REQUIRE_FALSE(jobs.ok());
    CHECK(jobs.error().message.find("refused by the test") != std::string::npos);
    auto listed = store.list(std::nullopt, 100);
    REQUIRE(listed.ok());
    CHECK(listed->empty());
    // Not even an id was used up: the next batch starts at the first.
    auto next = store.submitMany({spec("e", 0)});
    REQUIRE(next.ok());
    CHECK(next->front().id == "j000001");
    CHECK(store.list(std::nullopt, 100)->size() == 1);
}
