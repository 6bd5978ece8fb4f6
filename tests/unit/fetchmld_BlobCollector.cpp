// Unit tests of the store's garbage collection (BlobCollector, PinStore, PruneRunner without a
// loop) on a temporary database and store: which recorded trees and blobs go (those of pruned
// jobs, unpinned old trees, old unnamed blobs) and which stay (kept jobs' code and results,
// pins, trees recorded within the grace period, blobs stored or vouched for within it), that a
// dry run removes nothing, and that every tree still recorded keeps all its blobs.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "BlobCollector.hpp"
#include "DatasetStore.hpp"
#include "JobPruner.hpp"
#include "JobStore.hpp"
#include "PinStore.hpp"
#include "PruneRunner.hpp"
#include "fetchmld_TempDb.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/StoreLock.hpp"

using namespace fetchml;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

std::int64_t realNowMs() {
    struct timespec t {};
    ::clock_gettime(CLOCK_REALTIME, &t);
    return std::int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1000000;
}

struct World {
    // The database's clock starts at the wall clock: blob files carry real times, and the
    // collector compares both with one cutoff.
    World()
        : now(realNowMs()),
          store(*BlobStore::create(t.dir + "/store")),
          jobs(*t.db, [this] { return now; }),
          pins(*t.db, [this] { return now; }),
          pruner(*t.db, t.dir + "/runs", [this] { return now; }),
          collector(*t.db, store, kDay, [this] { return now; }) {
        fs::create_directories(t.dir + "/runs");
    }

    /// Stores a blob whose file was last touched `age` ms before the clock.
    std::string blob(const std::string& name, std::int64_t age) {
        std::string data = "content of " + name + "\n";
        std::string hash = Sha256::hashBuffer(data);
        REQUIRE(store.putBuffer(data, hash).ok());
        setAge(hash, age);
        sizes[hash] = data.size();
        return hash;
    }
    void setAge(const std::string& hash, std::int64_t age) {
        const std::int64_t ms = now - age;
        struct timespec times[2] = {{0, UTIME_OMIT}, {ms / 1000, (ms % 1000) * 1000000}};
        REQUIRE(::utimensat(AT_FDCWD, store.path(hash).c_str(), times, 0) == 0);
    }

    /// Records a tree of the given blobs, `age` ms before the clock; returns its id.
    std::string tree(const std::vector<std::string>& blobs, std::int64_t age,
                     const std::string& kind = "commit") {
        std::vector<ManifestEntry> entries;
        for (std::size_t i = 0; i < blobs.size(); ++i) {
            entries.push_back(ManifestEntry{"f" + std::to_string(i), Manifest::kModeFile,
                                            sizes.at(blobs[i]), blobs[i]});
        }
        auto manifest = Manifest::fromEntries(entries);
        REQUIRE(manifest.ok());
        const std::int64_t saved = now;
        now -= age;
        REQUIRE(jobs.putCommit(manifest->commitId(), manifest->text(), kind, "alice").ok());
        now = saved;
        return manifest->commitId();
    }

    /// A job of commit `commit` that succeeded with results tree `results` ("" = none).
    std::string succeeded(const std::string& commit, const std::string& results) {
        JobSpec s;
        s.user = "alice";
        s.commit = commit;
        s.command = {"true"};
        s.image = "rootfs:busybox";
        auto job = jobs.submit(s);
        REQUIRE(job.ok());
        REQUIRE(jobs.transition(job->id, JobState::Starting, {}).ok());
        REQUIRE(jobs.transition(job->id, JobState::Running, {}).ok());
        REQUIRE(jobs.transition(job->id, JobState::Succeeded, {0, "exited"}).ok());
        if (!results.empty()) {
            REQUIRE(jobs.setResults(job->id, results).ok());
        }
        return job->id;
    }

    bool recorded(const std::string& id) { return *jobs.getCommit(id) != std::nullopt; }

    /// Every recorded tree's blobs are in the store (the invariant the client relies on).
    void checkInvariant() {
        auto stmt = t.db->prepare("SELECT id, manifest FROM commits");
        REQUIRE(stmt.ok());
        std::vector<std::pair<std::string, std::string>> rows;
        REQUIRE((*stmt)
                    ->forEachRow(
                        [&](const Statement& row) { rows.emplace_back(row.text(0), row.text(1)); })
                    .ok());
        for (const auto& [id, text] : rows) {
            auto manifest = Manifest::parse(text);
            REQUIRE(manifest.ok());
            for (const auto& hash : manifest->blobHashes()) {
                INFO("tree " << id << " blob " << hash);
                CHECK(store.has(hash));
            }
        }
    }

    TempDb t;
    std::int64_t now;
    BlobStore store;
    JobStore jobs;
    PinStore pins;
    JobPruner pruner;
    BlobCollector collector;
    std::map<std::string, std::uint64_t> sizes;
};

}  // namespace

TEST_CASE("garbage collection removes what no job, pin or grace period keeps", "[fetchmld][gc]") {
    World w;
    const std::int64_t old = 3 * kDay;
    const std::string shared = w.blob("shared by a pruned and a kept job", old);
    const std::string a1 = w.blob("code of the pruned job", old);
    const std::string r1 = w.blob("results of the pruned job", old);
    const std::string b1 = w.blob("code of the kept job", old);
    const std::string r2 = w.blob("results of the kept job", old);
    const std::string c1 = w.blob("pinned", old);
    const std::string d1 = w.blob("of a tree recorded an hour ago", old);
    const std::string e1 = w.blob("of an old tree nothing names", old);
    const std::string o1 = w.blob("old, in no tree", old);
    const std::string o2 = w.blob("just uploaded, in no tree yet", kHour);

    const std::string treeA = w.tree({shared, a1}, old);
    const std::string treeR = w.tree({r1}, old, "results");
    const std::string treeB = w.tree({shared, b1}, old);
    const std::string treeR2 = w.tree({r2}, old, "results");
    const std::string treeC = w.tree({c1}, old);
    const std::string treeD = w.tree({d1}, kHour);
    const std::string treeE = w.tree({e1}, old);
    const std::string pruned = w.succeeded(treeA, treeR);
    const std::string kept = w.succeeded(treeB, treeR2);
    REQUIRE(w.pins.add(treeC, "paper figure 3", "boss").ok());
    REQUIRE(w.t.db->exec("UPDATE jobs SET finished_at = 1 WHERE seq = 1").ok());

    // A dry run of "prune the first job" counts that job as gone and removes nothing.
    REQUIRE(w.collector.start(true, {pruned}).ok());
    while (!*w.collector.step(std::chrono::milliseconds(1))) {
    }
    const GcReport dry = w.collector.report();
    std::set<std::string> dryTrees;
    for (const auto& [id, kind] : dry.trees) {
        dryTrees.insert(id);
    }
    CHECK(dryTrees == std::set<std::string>{treeA, treeR, treeE});
    CHECK(dry.blobsRemoved == 4);  // a1, r1, e1, o1
    CHECK(dry.bytesFreed == w.sizes[a1] + w.sizes[r1] + w.sizes[e1] + w.sizes[o1]);
    CHECK(w.recorded(treeA));
    CHECK(w.store.has(a1));
    CHECK(w.store.has(o1));

    // Without the job, the same for real.
    PruneFilter filter;
    filter.keepLast = 1;
    auto jobsGone = w.pruner.prune(filter);
    REQUIRE(jobsGone.ok());
    REQUIRE(jobsGone->pruned == std::vector<std::string>{pruned});
    auto report = w.collector.run(false);
    REQUIRE(report.ok());
    std::set<std::string> trees;
    for (const auto& [id, kind] : report->trees) {
        trees.insert(id);
        CHECK(kind == (id == treeR ? "results" : "commit"));
    }
    CHECK(trees == dryTrees);
    CHECK(report->blobsRemoved == dry.blobsRemoved);
    CHECK(report->bytesFreed == dry.bytesFreed);
    for (const auto& gone : {a1, r1, e1, o1}) {
        CHECK_FALSE(w.store.has(gone));
    }
    for (const auto& stays : {shared, b1, r2, c1, d1, o2}) {
        CHECK(w.store.has(stays));
    }
    for (const auto& id : {treeA, treeR, treeE}) {
        CHECK_FALSE(w.recorded(id));
    }
    for (const auto& id : {treeB, treeR2, treeC, treeD}) {
        CHECK(w.recorded(id));
    }
    w.checkInvariant();

    // Nothing more to collect; once the grace period has passed the young tree goes too, and
    // an unpinned tree with it.
    auto again = w.collector.run(false);
    REQUIRE(again.ok());
    CHECK(again->trees.empty());
    CHECK(again->blobsRemoved == 0);
    REQUIRE(w.pins.remove(treeC).ok());
    w.now += kDay;
    w.setAge(o2, 2 * kDay);
    auto later = w.collector.run(false);
    REQUIRE(later.ok());
    CHECK(later->trees.size() == 2);  // treeC, treeD
    CHECK(later->blobsRemoved == 3);  // c1, d1, o2
    CHECK(w.store.has(shared));
    CHECK(w.store.has(b1));
    w.checkInvariant();
}

TEST_CASE("datasets keep their versions' trees, and the trees their jobs read",
          "[fetchmld][gc][data]") {
    World w;
    DatasetStore datasets(*w.t.db, [&w] { return w.now; });
    const std::int64_t old = 3 * kDay;
    const std::string v1 = w.blob("first version", old);
    const std::string v2 = w.blob("second version", old);
    const std::string code = w.blob("code", old);
    const std::string tree1 = w.tree({v1}, old);
    const std::string tree2 = w.tree({v2}, old);
    const std::string commit = w.tree({code}, old);
    REQUIRE(datasets.add("mnist", tree1, "alice").ok());
    REQUIRE(datasets.add("mnist", tree2, "alice").ok());
    // A finished job read version 1, which is then removed.
    JobSpec s;
    s.user = "alice";
    s.commit = commit;
    s.command = {"true"};
    s.image = "rootfs:busybox";
    s.data = {DataRef{"mnist", 1, tree1}};
    auto job = w.jobs.submit(s);
    REQUIRE(job.ok());
    CHECK(job->spec.data == s.data);
    REQUIRE(w.jobs.transition(job->id, JobState::Starting, {}).ok());
    REQUIRE(w.jobs.transition(job->id, JobState::Running, {}).ok());
    REQUIRE(w.jobs.transition(job->id, JobState::Succeeded, {0, "exited"}).ok());
    REQUIRE(datasets.remove(DatasetRef{"mnist", 1}).ok());

    auto kept = w.collector.run(false);
    REQUIRE(kept.ok());
    CHECK(kept->trees.empty());
    CHECK(w.store.has(v1));
    CHECK(w.store.has(v2));

    // Once the job is pruned, nothing names version 1 any more; version 2 stays.
    REQUIRE(w.pruner.prune(PruneFilter{}).ok());
    auto collected = w.collector.run(false);
    REQUIRE(collected.ok());
    std::set<std::string> trees;
    for (const auto& [id, kind] : collected->trees) {
        trees.insert(id);
    }
    CHECK(trees == std::set<std::string>{tree1, commit});
    CHECK_FALSE(w.store.has(v1));
    CHECK(w.store.has(v2));
    w.checkInvariant();
}

TEST_CASE("a tree recorded again, and blobs vouched for, start their grace period again",
          "[fetchmld][gc]") {
    World w;
    const std::string b = w.blob("synced two days ago, synced again now", 2 * kDay);
    const std::string tree = w.tree({b}, 2 * kDay);
    // The client asks which blobs are missing (MissingBlobs retains) and records the tree
    // again (PutManifest): both refresh.
    CHECK(w.store.retain(b));
    w.tree({b}, 0);
    auto report = w.collector.run(false);
    REQUIRE(report.ok());
    CHECK(report->trees.empty());
    CHECK(w.store.has(b));
    CHECK(w.recorded(tree));

    // A blob vouched for but not yet in any recorded tree (a sync between MissingBlobs and
    // PutManifest) stays though nothing names it.
    const std::string pending = w.blob("uploaded before its manifest", 2 * kDay);
    CHECK(w.store.retain(pending));
    report = w.collector.run(false);
    REQUIRE(report.ok());
    CHECK(report->blobsRemoved == 0);
    CHECK(w.store.has(pending));
}

TEST_CASE("a sweep accepted but not expanded yet keeps its commit and datasets",
          "[fetchmld][gc][sweep]") {
    World w;
    const std::string code = w.blob("the sweep's code", 2 * kDay);
    const std::string commit = w.tree({code}, 2 * kDay);
    const std::string data = w.blob("the sweep's dataset", 2 * kDay);
    const std::string dataTree = w.tree({data}, 2 * kDay);
    const std::string other = w.blob("nobody's", 2 * kDay);
    const std::string orphan = w.tree({other}, 2 * kDay);
    // Its plan names the commit and the dataset version's tree (JobStore::reserveSweep); no
    // job row does yet.
    const nlohmann::json plan = {
        {"spec",
         {{"commit", commit}, {"data", {{{"name", "d"}, {"version", 1}, {"tree", dataTree}}}}}},
        {"axes", nlohmann::json::array()}};
    REQUIRE(w.jobs.reserveSweep("alice", 2, plan.dump()).ok());
    auto report = w.collector.run(false);
    REQUIRE(report.ok());
    CHECK(w.recorded(commit));
    CHECK(w.recorded(dataTree));
    CHECK(w.store.has(code));
    CHECK(w.store.has(data));
    CHECK_FALSE(w.recorded(orphan));
    CHECK_FALSE(w.store.has(other));
}

TEST_CASE("a collection removes no blob while a backup holds the store's lock",
          "[fetchmld][gc][backup]") {
    World w;
    const std::string old = w.blob("of a tree nothing keeps", 2 * kDay);
    const std::string tree = w.tree({old}, 2 * kDay);
    // A backup (fetchmlctl backup) reads the store: it holds the lock shared.
    auto backup = StoreLock::tryLock(w.store.root(), StoreLock::Mode::Shared);
    REQUIRE(backup.ok());
    REQUIRE(backup->has_value());
    // A second backup may read at the same time; a collection may not remove.
    auto second = StoreLock::tryLock(w.store.root(), StoreLock::Mode::Shared);
    REQUIRE(second.ok());
    CHECK(second->has_value());
    second->reset();
    auto report = w.collector.run(false);
    REQUIRE(report.ok());
    CHECK(report->blobsRemoved == 0);
    CHECK(report->sweepSkipped.find("backup") != std::string::npos);
    CHECK(w.store.has(old));
    CHECK_FALSE(w.recorded(tree));  // the record went (start() needs no lock)
    w.checkInvariant();
    // A dry run removes nothing and needs no lock.
    auto dry = w.collector.run(true);
    REQUIRE(dry.ok());
    CHECK(dry->sweepSkipped.empty());
    CHECK(dry->blobsRemoved == 1);

    // The backup ends: the next collection removes the blob, and holds the lock meanwhile
    // (a backup starting then would wait).
    backup->reset();
    REQUIRE(w.collector.start(false).ok());
    bool sawLockHeld = false;
    for (;;) {
        auto done = w.collector.step(std::chrono::milliseconds(0));
        REQUIRE(done.ok());
        if (*done) {
            break;
        }
        auto probe = StoreLock::tryLock(w.store.root(), StoreLock::Mode::Shared);
        REQUIRE(probe.ok());
        sawLockHeld = sawLockHeld || !probe->has_value();
    }
    CHECK(w.collector.report().blobsRemoved == 1);
    CHECK(w.collector.report().sweepSkipped.empty());
    CHECK_FALSE(w.store.has(old));
    CHECK(sawLockHeld);
    // Released at the end.
    auto after = StoreLock::tryLock(w.store.root(), StoreLock::Mode::Exclusive);
    REQUIRE(after.ok());
    CHECK(after->has_value());
}

TEST_CASE("a recorded manifest that does not parse stops the collection before any blob",
          "[fetchmld][gc]") {
    World w;
    const std::string orphan = w.blob("old, in no tree", 3 * kDay);
    REQUIRE(w.jobs.putCommit(std::string(64, 'f'), "not a manifest\n", "commit", "x").ok());
    auto report = w.collector.run(false);
    REQUIRE_FALSE(report.ok());
    CHECK(report.error().message.find("does not parse") != std::string::npos);
    CHECK(w.store.has(orphan));
}

TEST_CASE("pins: only recorded trees, a note, listed newest first, removed by id",
          "[fetchmld][gc][pins]") {
    World w;
    const std::string first = w.tree({w.blob("x", 0)}, 0);
    const std::string second = w.tree({w.blob("y", 0)}, 0, "results");
    CHECK(w.pins.add(std::string(64, 'a'), "", "boss").error().code == ErrorCode::NotFound);
    CHECK(w.pins.add("j000001", "", "boss").error().code == ErrorCode::InvalidArgument);
    CHECK(w.pins.add(first, std::string(501, 'n'), "boss").error().code ==
          ErrorCode::InvalidArgument);
    CHECK(w.pins.add(first, "two\nlines", "boss").error().code == ErrorCode::InvalidArgument);

    auto pin = w.pins.add(first, "baseline", "boss");
    REQUIRE(pin.ok());
    CHECK(pin->kind == "commit");
    CHECK(pin->user == "boss");
    w.now += 1000;
    REQUIRE(w.pins.add(second, "", "alice").ok());
    // Pinning again replaces the note and keeps who and when.
    auto renoted = w.pins.add(first, "baseline v2", "alice");
    REQUIRE(renoted.ok());
    CHECK(renoted->note == "baseline v2");
    CHECK(renoted->user == "boss");
    auto listed = w.pins.list();
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 2);
    CHECK((*listed)[0].target == second);
    CHECK((*listed)[0].kind == "results");
    CHECK((*listed)[1].target == first);

    auto removed = w.pins.remove(first);
    REQUIRE(removed.ok());
    CHECK(removed->note == "baseline v2");
    CHECK(w.pins.remove(first).error().code == ErrorCode::NotFound);
    CHECK(w.pins.list()->size() == 1);
}

TEST_CASE("PruneRunner without a loop: jobs, then the store, in one call", "[fetchmld][gc]") {
    World w;
    const std::string b = w.blob("of a pruned job", 3 * kDay);
    const std::string tree = w.tree({b}, 3 * kDay);
    const std::string job = w.succeeded(tree, "");
    int hooks = 0;

    PruneRunner runner(nullptr, w.pruner, &w.collector, "");
    runner.setBeforeStart([&] { ++hooks; });
    std::optional<Result<PruneOutcome>> answer;
    PruneFilter filter;
    filter.dryRun = true;
    runner.submit(filter, [&](Result<PruneOutcome> o) { answer = std::move(o); });
    REQUIRE(answer);
    REQUIRE(answer->ok());
    CHECK((*answer)->dryRun);
    CHECK((*answer)->jobs.pruned == std::vector<std::string>{job});
    CHECK((*answer)->store.blobsRemoved == 1);
    CHECK(w.store.has(b));

    answer.reset();
    filter.dryRun = false;
    runner.submit(filter, [&](Result<PruneOutcome> o) { answer = std::move(o); });
    REQUIRE(answer);
    REQUIRE(answer->ok());
    CHECK((*answer)->store.trees.size() == 1);
    CHECK((*answer)->gcSkipped.empty());
    CHECK_FALSE(w.store.has(b));
    CHECK(hooks == 2);

    // A host that does not collect says why; its jobs are pruned all the same.
    const std::string other = w.succeeded(w.tree({w.blob("y", 3 * kDay)}, 3 * kDay), "");
    PruneRunner shared(nullptr, w.pruner, nullptr, "the store is shared");
    answer.reset();
    shared.submit(filter, [&](Result<PruneOutcome> o) { answer = std::move(o); });
    REQUIRE(answer);
    REQUIRE(answer->ok());
    CHECK((*answer)->jobs.pruned == std::vector<std::string>{other});
    CHECK((*answer)->gcSkipped == "the store is shared");
    CHECK((*answer)->store.blobsRemoved == 0);
}
