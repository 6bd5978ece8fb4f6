// Unit tests of SharedQueue: two hosts (each its own database, JobStore and Scheduler, one
// shared store) sharing one SqliteJobQueue, with one injected clock, so leases run out without
// sleeping. The workers are the Schedulers' send callbacks. The Redis back end is held to the
// same JobQueue contract by tests/integration/fetchmld_JobQueue.cpp, and the whole thing runs
// over Redis with real hosts in tests/integration/stack_SeveralHosts.cpp.
#include <stdlib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "Database.hpp"
#include "JobStore.hpp"
#include "Scheduler.hpp"
#include "Schema.hpp"
#include "SharedQueue.hpp"
#include "SqliteJobQueue.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;

namespace {

constexpr std::int64_t kLeaseMs = 30000;

/// One host: database, JobStore, Scheduler and its SharedQueue over the common queue.
struct Host {
    Host(const std::string& name, const std::string& dir, BlobStore& store, JobQueue& queue,
         std::int64_t& clock) {
        std::filesystem::create_directories(dir + "/runs");
        db = std::move(Database::open(dir + "/fetchml.db")).value();
        REQUIRE(db->migrate(schedulerMigrations()).ok());
        jobs = std::make_unique<JobStore>(*db, [&clock] { return clock; });
        scheduler = std::make_unique<Scheduler>(
            *jobs, store, SchedulerOptions{dir + "/runs", "rootfs:busybox", 64, 60, 10, 0},
            [this](const Job& job) {
                if (shared) {
                    shared->onChanged(job);
                }
            });
        scheduler->setWorkerSend([this](const nlohmann::json& m) {
            sent.push_back(m);
            return true;
        });
        shared = std::make_unique<SharedQueue>(queue, *jobs, *scheduler, name);
        scheduler->setShared(shared->hooks());
    }
    /// Job ids of the `run` messages sent to this host's worker, in order.
    std::vector<std::string> runs() const {
        std::vector<std::string> ids;
        for (const auto& m : sent) {
            if (m.value("type", "") == "run") {
                ids.push_back(m["job"]["id"].get<std::string>());
            }
        }
        return ids;
    }
    bool cancelSent(const std::string& id) const {
        return std::any_of(sent.begin(), sent.end(), [&](const nlohmann::json& m) {
            return m.value("type", "") == "cancel" && m.value("id", "") == id;
        });
    }
    Job job(const std::string& id) const { return jobs->get(id).value(); }

    std::unique_ptr<Database> db;
    std::unique_ptr<JobStore> jobs;
    std::unique_ptr<Scheduler> scheduler;
    std::unique_ptr<SharedQueue> shared;
    std::vector<nlohmann::json> sent;
};

struct Cluster {
    Cluster() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "fetchmld-shared-XXXXXX").string();
        dir = mkdtemp(tmpl.data());
        store = std::make_unique<BlobStore>(std::move(BlobStore::create(dir + "/store")).value());
        queue = std::move(SqliteJobQueue::open(dir + "/queue.db", kLeaseMs, [this] {
                    return now;
                })).value();
        a = std::make_unique<Host>("host-a", dir + "/a", *store, *queue, now);
        b = std::make_unique<Host>("host-b", dir + "/b", *store, *queue, now);
        std::string content = "echo hi\n";
        std::string hash = Sha256::hashBuffer(content);
        REQUIRE(store->putBuffer(content, hash).ok());
        auto manifest =
            Manifest::fromEntries({{"run.sh", Manifest::kModeExecutable, content.size(), hash}});
        REQUIRE(manifest.ok());
        commit = manifest->commitId();
        // Uploaded to host A only: host B learns the commit from the entry.
        REQUIRE(a->jobs->putCommit(commit, manifest->text(), "commit", "alice").ok());
    }
    ~Cluster() {
        a.reset();
        b.reset();
        queue.reset();
        std::filesystem::remove_all(dir);
    }
    JobSpec spec() const {
        JobSpec s;
        s.user = "alice";
        s.commit = commit;
        s.command = {"sh", "run.sh"};
        return s;
    }

    std::int64_t now = 1000000;
    std::string dir, commit;
    std::unique_ptr<BlobStore> store;
    std::unique_ptr<SqliteJobQueue> queue;
    std::unique_ptr<Host> a, b;
};

WorkerCapacity oneSlot() {
    return {1, 1.0, 0, {}};
}

}  // namespace

TEST_CASE("a job submitted on one host runs on the host that claims it and is mirrored back",
          "[fetchmld][shared]") {
    Cluster c;
    auto job = c.a->scheduler->submit(c.spec());
    REQUIRE(job.ok());
    CHECK(job->shared);  // waits in the shared queue, not in A's own
    CHECK(c.a->runs().empty());
    CHECK(c.queue->waiting().value() == 1);

    c.b->scheduler->workerConnected(oneSlot(), {});
    c.b->shared->tick();
    REQUIRE(c.b->runs() == std::vector<std::string>{job->id});  // same id on both hosts
    CHECK(c.b->job(job->id).origin == "host-a");
    CHECK(std::filesystem::exists(c.dir + "/b/runs/" + job->id + "/code/run.sh"));
    c.b->scheduler->jobStarted(job->id);

    c.a->shared->tick();  // A reads B's events
    CHECK(c.a->job(job->id).state == JobState::Running);
    CHECK(c.a->job(job->id).host == "host-b");

    c.now += 500;
    REQUIRE(c.b->scheduler->jobExited(job->id, {0, 0, "exited", ""}));
    CHECK(c.b->job(job->id).state == JobState::Succeeded);
    CHECK(c.b->job(job->id).claim.empty());  // entry completed
    CHECK(c.queue->held("host-b").value().empty());

    c.a->shared->tick();
    auto onA = c.a->job(job->id);
    CHECK(onA.state == JobState::Succeeded);
    CHECK(onA.exitCode == 0);
    CHECK(onA.host == "host-b");
    CHECK(onA.finishedAt == c.now);

    // Nothing is left to claim: A, given a worker, runs nothing.
    c.a->scheduler->workerConnected(oneSlot(), {});
    c.a->shared->tick();
    CHECK(c.a->runs().empty());
}

TEST_CASE("a host claims only what it has room for", "[fetchmld][shared]") {
    Cluster c;
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.a->scheduler->submit(c.spec()).ok());
    }
    c.a->scheduler->workerConnected(oneSlot(), {});
    c.b->scheduler->workerConnected(oneSlot(), {});
    c.a->shared->tick();
    c.b->shared->tick();
    CHECK(c.a->runs() == std::vector<std::string>{"j000001"});
    CHECK(c.b->runs() == std::vector<std::string>{"j000002"});
    CHECK(c.queue->waiting().value() == 1);
    c.b->shared->tick();  // still full: claims nothing
    CHECK(c.queue->waiting().value() == 1);
    REQUIRE(c.b->scheduler->jobExited("j000002", {0, 0, "exited", ""}));
    c.b->shared->tick();
    CHECK(c.b->runs() == std::vector<std::string>{"j000002", "j000003"});
}

TEST_CASE("a host whose lease ran out loses the job to another and stops its own run",
          "[fetchmld][shared]") {
    Cluster c;
    auto job = c.a->scheduler->submit(c.spec());
    REQUIRE(job.ok());
    c.a->scheduler->workerConnected(oneSlot(), {});
    c.a->shared->tick();
    REQUIRE(c.a->runs() == std::vector<std::string>{job->id});
    c.a->scheduler->jobStarted(job->id);

    // A renews while its lease lasts: B, with room, cannot take the job.
    c.b->scheduler->workerConnected(oneSlot(), {});
    c.now += kLeaseMs / 2;
    c.a->shared->tick();
    c.now += kLeaseMs / 2 + 1;
    c.b->shared->tick();
    CHECK(c.b->runs().empty());

    // A falls silent for longer than the lease: B reclaims the entry and runs the job.
    c.now += kLeaseMs + 1;
    c.b->shared->tick();
    REQUIRE(c.b->runs() == std::vector<std::string>{job->id});
    auto onB = c.b->job(job->id);
    CHECK(!onB.shared);  // B's record is B's own run now
    CHECK(onB.host.empty());
    CHECK(onB.attempt == 2);  // the run A lost counts as the first

    // A comes back: its renewal finds the entry gone, it stops the job and, as the job's
    // origin, follows it on B from then on.
    c.a->shared->tick();
    CHECK(c.a->cancelSent(job->id));
    CHECK(c.a->job(job->id).shared);
    CHECK(c.a->job(job->id).host == "host-b");
    // The worker's report of the stopped container is acknowledged and changes nothing.
    CHECK(c.a->scheduler->jobExited(job->id, {0, 15, "cancelled", ""}));
    CHECK(c.a->job(job->id).state == JobState::Starting);
    CHECK(c.b->job(job->id).state == JobState::Starting);

    REQUIRE(c.b->scheduler->jobExited(job->id, {0, 0, "exited", ""}));
    CHECK(c.b->job(job->id).state == JobState::Succeeded);
    c.a->shared->tick();
    CHECK(c.a->job(job->id).state == JobState::Succeeded);
    CHECK(c.queue->held("host-a").value().empty());
    CHECK(c.queue->held("host-b").value().empty());
}

TEST_CASE("cancel reaches the job wherever it is", "[fetchmld][shared]") {
    Cluster c;
    SECTION("still in the shared queue: no host runs it") {
        auto job = c.a->scheduler->submit(c.spec());
        REQUIRE(job.ok());
        auto cancelled = c.a->scheduler->cancel(job->id);
        REQUIRE(cancelled.ok());
        CHECK(cancelled->state == JobState::Cancelled);
        c.b->scheduler->workerConnected(oneSlot(), {});
        c.b->shared->tick();
        CHECK(c.b->runs().empty());
        CHECK(c.queue->waiting().value() == 0);
        CHECK(c.queue->held("host-b").value().empty());
    }
    SECTION("running on another host: that host stops it") {
        auto job = c.a->scheduler->submit(c.spec());
        REQUIRE(job.ok());
        c.b->scheduler->workerConnected(oneSlot(), {});
        c.b->shared->tick();
        c.b->scheduler->jobStarted(job->id);
        c.a->shared->tick();
        REQUIRE(c.a->job(job->id).state == JobState::Running);
        auto asked = c.a->scheduler->cancel(job->id);
        REQUIRE(asked.ok());
        CHECK(asked->state == JobState::Running);  // ends when the other host reports it
        c.now += kLeaseMs / 3 + 1;                 // B's next renewal reads the requests
        c.b->shared->tick();
        CHECK(c.b->cancelSent(job->id));
        REQUIRE(c.b->scheduler->jobExited(job->id, {0, 15, "cancelled", ""}));
        c.a->shared->tick();
        CHECK(c.a->job(job->id).state == JobState::Cancelled);
    }
}

TEST_CASE("entry payloads carry the whole spec and bad ones name the field", "[fetchmld][shared]") {
    JobSpec spec;
    spec.name = "n";
    spec.user = "alice";
    spec.commit = std::string(64, 'a');
    spec.command = {"python3", "train.py"};
    spec.image = "rootfs:busybox";
    spec.priority = -5;
    spec.params = {{"lr", "0.1"}};
    spec.maxRetries = 2;
    spec.cpus = 1.5;
    spec.memoryMib = 2048;
    spec.gpus = 1;
    spec.maxRuntimeS = 3600;
    auto back = SharedQueue::specFromPayload(SharedQueue::payload("h", spec, "manifest"));
    REQUIRE(back.ok());
    CHECK(back->name == "n");
    CHECK(back->command == spec.command);
    CHECK(back->params == spec.params);
    CHECK(back->priority == -5);
    CHECK(back->cpus == 1.5);
    CHECK(back->memoryMib == 2048);
    CHECK(back->gpus == 1);
    CHECK(back->maxRuntimeS == 3600);
    CHECK(back->maxRetries == 2);

    auto noSpec = SharedQueue::specFromPayload(nlohmann::json{{"origin", "h"}});
    REQUIRE(!noSpec.ok());
    CHECK(noSpec.error().message == "spec: missing");
    auto broken = SharedQueue::payload("h", spec, "");
    broken["spec"]["cpus"] = "many";
    auto bad = SharedQueue::specFromPayload(broken);
    REQUIRE(!bad.ok());
    CHECK(bad.error().message.rfind("spec: ", 0) == 0);
}

TEST_CASE("a host joining with jobs of its own never sees their ids reused", "[fetchmld][shared]") {
    Cluster c;
    // B ran alone before: its database has jobs j000001..j000003.
    JobSpec own = c.spec();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.b->jobs->submit(own).ok());
    }
    REQUIRE(c.b->shared->recover().ok());
    auto job = c.a->scheduler->submit(c.spec());
    REQUIRE(job.ok());
    CHECK(job->id == "j000004");
    c.b->scheduler->workerConnected(oneSlot(), {});
    c.b->shared->tick();
    auto runs = c.b->runs();
    CHECK(std::count(runs.begin(), runs.end(), "j000004") == 1);
    CHECK(c.b->job("j000004").origin == "host-a");
    CHECK(c.b->job("j000001").origin.empty());  // its own job, untouched
}

TEST_CASE("a host restarted after its lease ran out gives up the claims another host took",
          "[fetchmld][shared]") {
    Cluster c;
    auto job = c.a->scheduler->submit(c.spec());
    REQUIRE(job.ok());
    c.a->scheduler->workerConnected(oneSlot(), {});
    c.a->shared->tick();
    REQUIRE(c.a->runs() == std::vector<std::string>{job->id});
    c.a->scheduler->jobStarted(job->id);

    // A's fetchmld is down for longer than the lease; B takes the job.
    c.now += kLeaseMs + 1;
    c.b->scheduler->workerConnected(oneSlot(), {});
    c.b->shared->tick();
    REQUIRE(c.b->runs() == std::vector<std::string>{job->id});

    // A starts again (a new Scheduler and SharedQueue over the same database).
    c.a->scheduler = std::make_unique<Scheduler>(
        *c.a->jobs, *c.store, SchedulerOptions{c.dir + "/a/runs", "rootfs:busybox", 64, 60, 10, 0},
        nullptr);
    c.a->shared = std::make_unique<SharedQueue>(*c.queue, *c.a->jobs, *c.a->scheduler, "host-a");
    c.a->scheduler->setShared(c.a->shared->hooks());
    REQUIRE(c.a->shared->recover().ok());
    auto onA = c.a->job(job->id);
    CHECK(onA.shared);
    CHECK(onA.claim.empty());
    // Its worker still runs the container: at hello it is not A's any more and is stopped,
    // not recorded as lost.
    c.a->sent.clear();
    c.a->scheduler->setWorkerSend([&](const nlohmann::json& m) {
        c.a->sent.push_back(m);
        return true;
    });
    c.a->scheduler->workerConnected(oneSlot(), {job->id});
    CHECK(c.a->cancelSent(job->id));
    CHECK(c.a->job(job->id).state != JobState::Failed);
}
