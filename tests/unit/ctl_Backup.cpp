// backupServer / restoreServer (ctl/Backup.hpp) on a server state made in a temporary
// directory: fetchmld's real schema (Database, JobStore), a BlobStore and run logs; no daemon.
// The end-to-end test with a running stack is tests/integration/ctl_Backup.cpp.

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "Backup.hpp"
#include "BackupDatabase.hpp"
#include "BackupManifest.hpp"
#include "Database.hpp"
#include "JobStore.hpp"
#include "Schema.hpp"
#include "store/BlobStore.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/StoreLock.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using namespace fetchml::ctl;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

// A server's state directory: database (fetchmld's schema), store and runs/.
struct Server {
    explicit Server(const std::string& root) {
        paths = ServerPaths{root, root + "/fetchml.db", root + "/store", root + "/runs"};
        std::filesystem::create_directories(paths.runsDir);
        auto opened = Database::open(paths.database);
        REQUIRE(opened.ok());
        db = std::move(*opened);
        REQUIRE(db->migrate(schedulerMigrations()).ok());
        auto created = BlobStore::create(paths.storeDir);
        REQUIRE(created.ok());
        store = std::make_unique<BlobStore>(std::move(*created));
        jobs = std::make_unique<JobStore>(*db);
    }

    // Stores the files as blobs and records their manifest as a commit; its id.
    std::string commit(const std::vector<std::pair<std::string, std::string>>& files,
                       const std::string& kind = "code") {
        std::vector<ManifestEntry> entries;
        for (const auto& [path, content] : files) {
            const std::string hash = Sha256::hashBuffer(content);
            REQUIRE(store->putBuffer(content, hash).ok());
            entries.push_back(ManifestEntry{path, Manifest::kModeFile, content.size(), hash});
        }
        auto manifest = Manifest::fromEntries(entries);
        REQUIRE(manifest.ok());
        REQUIRE(jobs->putCommit(manifest->commitId(), manifest->text(), kind, "alice").ok());
        return manifest->commitId();
    }

    std::string submit(const std::string& commitId) {
        JobSpec spec;
        spec.user = "alice";
        spec.commit = commitId;
        spec.command = {"true"};
        spec.image = "rootfs:busybox";
        spec.params = {{"lr", "0.1"}};
        auto job = jobs->submit(spec);
        REQUIRE(job.ok());
        return job->id;
    }

    void log(const std::string& runDir, const std::string& text) {
        writeTestFile(paths.runsDir + "/" + runDir + "/logs/output.log", text, 0640);
    }

    ServerPaths paths;
    std::unique_ptr<Database> db;
    std::unique_ptr<BlobStore> store;
    std::unique_ptr<JobStore> jobs;
};

BackupSummary backup(const Server& server, const std::string& dir, BackupOptions options = {}) {
    options.clockMs = [] { return std::int64_t{1764460800000}; };
    auto summary = backupServer(server.paths, dir, options);
    INFO((summary ? "" : summary.error().message));
    REQUIRE(summary.ok());
    return *summary;
}

BackupManifest manifestOf(const std::string& dir) {
    auto parsed = BackupManifest::parse(readTestFile(dir + "/backup-manifest"));
    INFO((parsed ? "" : parsed.error().message));
    REQUIRE(parsed.ok());
    return *parsed;
}

std::string blobPath(const std::string& storeRoot, const std::string& hash) {
    return storeRoot + "/objects/sha256/" + hash.substr(0, 2) + "/" + hash.substr(2);
}

}  // namespace

TEST_CASE("a backup holds the database, every blob and the jobs' logs; the next copies nothing",
          "[ctl][backup]") {
    StoreTempDir tmp;
    Server server(tmp / "state");
    const std::string code = server.commit({{"train.py", "print(1)\n"}, {"data.csv", "x\n1\n"}});
    const std::string results = server.commit({{"model.txt", "weights\n"}}, "results");
    const std::string first = server.submit(code);
    const std::string second = server.submit(code);
    REQUIRE(server.jobs->setResults(first, results).ok());
    // An uploaded blob no commit names yet (a sync in progress) is kept too.
    REQUIRE(server.store->putBuffer("orphan", Sha256::hashBuffer("orphan")).ok());
    server.log(first, "hello from the first job\n");
    server.log(first + ".attempt1", "the first attempt\n");
    server.log("j000099", "a run directory of a job the database does not know\n");
    mkdir((server.paths.runsDir + "/" + second).c_str(), 0770);  // started, no log yet

    const std::string dir = tmp / "backup";
    auto summary = backup(server, dir);
    CHECK(summary.jobs == 2);
    CHECK(summary.commits == 2);
    CHECK(summary.blobs == 4);
    CHECK(summary.blobsCopied == 4);
    CHECK(summary.blobsSkipped == 0);
    CHECK(summary.logs == 2);
    CHECK(summary.logsCopied == 2);
    CHECK(summary.blobBytes == 9 + 4 + 8 + 6);
    CHECK(summary.bytesCopied == summary.blobBytes + 25 + 18);
    CHECK(summary.databaseBytes > 0);
    CHECK(summary.line().find("backup " + dir + ": 2 jobs, database ") == 0);
    CHECK(summary.toJson().at("blobs_copied") == 4);

    auto m = manifestOf(dir);
    CHECK(m.createdMs == 1764460800000);
    CHECK(m.blobs.size() == 4);
    REQUIRE(m.logs.size() == 2);
    CHECK(m.logs[0].path == "runs/" + first + ".attempt1/logs/output.log");
    CHECK(m.logs[1].path == "runs/" + first + "/logs/output.log");
    CHECK(readTestFile(blobPath(dir + "/store", m.logs[1].sha256)) == "hello from the first job\n");
    CHECK(Sha256::hashFile(dir + "/fetchml.db").value() == m.databaseSha256);
    for (const auto& blob : m.blobs) {
        struct stat st {};
        REQUIRE(::stat(blobPath(dir + "/store", blob.sha256).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0444);
        CHECK(static_cast<std::uint64_t>(st.st_size) == blob.size);
    }
    // The snapshot is one self-contained file: no WAL beside it, none needed.
    CHECK_FALSE(std::filesystem::exists(dir + "/fetchml.db-wal"));
    CHECK_FALSE(std::filesystem::exists(dir + "/fetchml.db.tmp"));
    struct stat dirStat {};
    REQUIRE(::stat(dir.c_str(), &dirStat) == 0);
    CHECK((dirStat.st_mode & 0777) == 0700);
    REQUIRE(::stat((dir + "/fetchml.db").c_str(), &dirStat) == 0);
    CHECK((dirStat.st_mode & 0777) == 0600);

    // Nothing changed: nothing is copied.
    auto again = backup(server, dir);
    CHECK(again.blobs == 4);
    CHECK(again.blobsCopied == 0);
    CHECK(again.blobsSkipped == 4);
    CHECK(again.logsCopied == 0);
    CHECK(again.bytesCopied == 0);

    // A log that grew and a new blob are the only things copied.
    server.log(first, "hello from the first job\nand more\n");
    REQUIRE(server.store->putBuffer("new", Sha256::hashBuffer("new")).ok());
    auto third = backup(server, dir);
    CHECK(third.blobsCopied == 1);
    CHECK(third.logsCopied == 1);
    CHECK(third.bytesCopied == 3 + 34);

    // --verify finds a damaged copy of the right size and copies it again.
    const std::string damaged = blobPath(dir + "/store", Sha256::hashBuffer("orphan"));
    ::chmod(damaged.c_str(), 0644);
    writeTestFile(damaged, "0rphan", 0444);
    CHECK(backup(server, dir).blobsCopied == 0);  // same size: trusted
    auto verified = backup(
        server, dir, BackupOptions{.verify = true, .prune = false, .clockMs = {}, .notice = {}});
    CHECK(verified.blobsReplaced == 1);
    CHECK(verified.blobsCopied == 1);
    CHECK(readTestFile(damaged) == "orphan");

    // A blob the server no longer has stays in the backup directory until --prune; the log
    // bytes of the backup stay either way.
    const std::string gone = Sha256::hashBuffer("new");
    REQUIRE(::unlink(blobPath(server.paths.storeDir, gone).c_str()) == 0);
    auto kept = backup(server, dir);
    CHECK(kept.blobs == 4);
    CHECK(kept.pruned == 0);
    CHECK(std::filesystem::exists(blobPath(dir + "/store", gone)));
    auto pruned = backup(
        server, dir, BackupOptions{.verify = false, .prune = true, .clockMs = {}, .notice = {}});
    CHECK(pruned.pruned == 2);  // the blob, and the log's first version
    CHECK_FALSE(std::filesystem::exists(blobPath(dir + "/store", gone)));
    for (const auto& log : manifestOf(dir).logs) {
        CHECK(std::filesystem::exists(blobPath(dir + "/store", log.sha256)));
    }
}

TEST_CASE("the snapshot is taken online and holds only committed transactions", "[ctl][backup]") {
    StoreTempDir tmp;
    Server server(tmp / "state");
    const std::string code = server.commit({{"a", "a\n"}});
    server.submit(code);
    // Another connection (fetchmld) is in the middle of a write transaction.
    auto writer = Database::open(server.paths.database);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->exec("BEGIN IMMEDIATE").ok());
    REQUIRE((*writer)
                ->exec("INSERT INTO jobs (user, state, commit_id, command, image, submitted_at) "
                       "VALUES ('bob', 'queued', '" +
                       code + "', '[\"true\"]', 'x', 1)")
                .ok());
    auto summary = backup(server, tmp / "backup");
    CHECK(summary.jobs == 1);
    REQUIRE((*writer)->exec("COMMIT").ok());
    CHECK(backup(server, tmp / "backup").jobs == 2);
}

TEST_CASE("a backup waits while the store's garbage collection holds the store's lock",
          "[ctl][backup]") {
    StoreTempDir tmp;
    Server server(tmp / "state");
    server.submit(server.commit({{"a", "a\n"}}));
    // fetchmld's collection is removing blobs: it holds the lock exclusively.
    auto collection = StoreLock::tryLock(server.paths.storeDir, StoreLock::Mode::Exclusive);
    REQUIRE(collection.ok());
    REQUIRE(collection->has_value());

    std::promise<std::string> told;  // Catch2's assertions stay on this thread
    BackupOptions options;
    options.clockMs = [] { return std::int64_t{1764460800000}; };
    options.notice = [&told](const std::string& message) { told.set_value(message); };
    std::atomic<bool> finished{false};
    Result<BackupSummary> result = makeError(ErrorCode::Internal, "not run");
    std::thread run([&] {
        result = backupServer(server.paths, tmp / "backup", options);
        finished = true;
    });
    // It says it waits, before taking its snapshot (a backup that did not wait would finish
    // instead, and fail the checks below rather than hang).
    auto notice = told.get_future();
    while (!finished &&
           notice.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
    }
    const bool waited = !finished;
    const bool noticed = notice.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    const bool snapshotTaken = std::filesystem::exists(tmp / "backup/backup-manifest");
    collection->reset();  // the collection ends
    run.join();
    CHECK(waited);
    CHECK_FALSE(snapshotTaken);
    REQUIRE(noticed);
    CHECK(notice.get().find("garbage collection") != std::string::npos);
    INFO((result ? "" : result.error().message));
    REQUIRE(result.ok());
    CHECK(result->jobs == 1);
    // While a backup copies, it holds the lock shared: a collection could not take it. Taken
    // now, after the backup, it is free again.
    auto after = StoreLock::tryLock(server.paths.storeDir, StoreLock::Mode::Exclusive);
    REQUIRE(after.ok());
    CHECK(after->has_value());
}

TEST_CASE("a backup refuses a store that lacks a blob the database names", "[ctl][backup]") {
    StoreTempDir tmp;
    Server server(tmp / "state");
    const std::string code = server.commit({{"a", "a\n"}, {"b", "b\n"}});
    server.submit(code);
    const std::string dir = tmp / "backup";
    auto good = backup(server, dir);
    const std::string manifestBefore = readTestFile(dir + "/backup-manifest");

    server.commit({{"c", "c\n"}});
    const std::string gone = Sha256::hashBuffer("b\n");
    REQUIRE(::unlink(blobPath(server.paths.storeDir, gone).c_str()) == 0);
    auto refused = backupServer(server.paths, dir, {});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("blob " + gone + " of commit " + code +
                                       " is not in the store") != std::string::npos);
    CHECK(refused.error().message.find("garbage collection") != std::string::npos);
    // The earlier backup is untouched and still restorable.
    CHECK(readTestFile(dir + "/backup-manifest") == manifestBefore);
    CHECK(Sha256::hashFile(dir + "/fetchml.db").value() == manifestOf(dir).databaseSha256);
}

TEST_CASE("restore rebuilds a server and refuses damaged backups, busy and non-empty databases",
          "[ctl][backup]") {
    StoreTempDir tmp;
    const std::string dir = tmp / "backup";
    std::string first;
    std::string results;
    {
        Server server(tmp / "old");
        const std::string code = server.commit({{"train.py", "print(1)\n"}});
        results = server.commit({{"model.txt", "weights\n"}}, "results");
        first = server.submit(code);
        server.submit(code);
        REQUIRE(server.jobs->setResults(first, results).ok());
        server.log(first, "the log\n");
        backup(server, dir);
    }
    auto m = manifestOf(dir);

    SECTION("into an empty state directory") {
        std::filesystem::create_directories(tmp / "new");
        ServerPaths target{tmp / "new", tmp / "new/fetchml.db", tmp / "new/store",
                           tmp / "new/runs"};
        auto restored = restoreServer(dir, target, {});
        INFO((restored ? "" : restored.error().message));
        REQUIRE(restored.ok());
        CHECK(restored->jobs == 2);
        CHECK(restored->blobs == 2);
        CHECK(restored->blobsStored == 2);
        CHECK(restored->logs == 1);
        CHECK(restored->line().find("restored " + dir + ": 2 jobs") == 0);
        for (const auto& blob : m.blobs) {
            const std::string path = blobPath(target.storeDir, blob.sha256);
            CHECK(Sha256::hashFile(path).value() == blob.sha256);
            struct stat st {};
            REQUIRE(::stat(path.c_str(), &st) == 0);
            CHECK((st.st_mode & 0777) == 0444);
        }
        CHECK(readTestFile(target.runsDir + "/" + first + "/logs/output.log") == "the log\n");
        struct stat runStat {};
        REQUIRE(::stat((target.runsDir + "/" + first).c_str(), &runStat) == 0);
        CHECK((runStat.st_mode & 07777) == 02770);
        // fetchmld opens it as it is: every job with its results.
        auto db = Database::open(target.database);
        REQUIRE(db.ok());
        REQUIRE((*db)->migrate(schedulerMigrations()).ok());
        JobStore jobs(**db);
        auto job = jobs.get(first);
        REQUIRE(job.ok());
        CHECK(job->results == results);
        CHECK(job->spec.params.at("lr") == "0.1");
        CHECK(jobs.getCommit(results).value().has_value());

        // A second restore finds data there: refused without --force, and while the database
        // is open (fetchmld runs) refused even with it.
        db->reset();
        auto again = restoreServer(dir, target, {});
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().message.find("already holds data (") != std::string::npos);
        CHECK(again.error().message.find("jobs") != std::string::npos);
        CHECK(again.error().message.find("--force") != std::string::npos);
        db = Database::open(target.database);
        REQUIRE(db.ok());
        REQUIRE((*db)->schemaVersion().ok());  // a read: the connection now holds its lock
        auto busy = restoreServer(dir, target, RestoreOptions{.force = true});
        REQUIRE_FALSE(busy.ok());
        CHECK(busy.error().code == ErrorCode::Busy);
        CHECK(busy.error().message.find("is in use") != std::string::npos);
        CHECK(busy.error().message.find("stop fetchmld") != std::string::npos);
        db->reset();
        auto forced = restoreServer(dir, target, RestoreOptions{.force = true});
        INFO((forced ? "" : forced.error().message));
        REQUIRE(forced.ok());
        CHECK(forced->blobsStored == 0);
        CHECK(forced->blobsPresent == 2);
    }

    SECTION("a damaged blob is refused by name and the database is not touched") {
        std::filesystem::create_directories(tmp / "new");
        ServerPaths target{tmp / "new", tmp / "new/fetchml.db", tmp / "new/store",
                           tmp / "new/runs"};
        const std::string hash = Sha256::hashBuffer("weights\n");
        const std::string copy = blobPath(dir + "/store", hash);
        ::chmod(copy.c_str(), 0644);
        writeTestFile(copy, "weighTs\n", 0444);
        auto refused = restoreServer(dir, target, {});
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().code == ErrorCode::InvalidArgument);
        CHECK(refused.error().message.find("blob " + hash) != std::string::npos);
        CHECK(refused.error().message.find("damaged") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(target.database));
        CHECK_FALSE(std::filesystem::exists(blobPath(target.storeDir, hash)));

        writeTestFile(copy, "short\n", 0444);
        auto shorter = restoreServer(dir, target, {});
        REQUIRE_FALSE(shorter.ok());
        CHECK(shorter.error().message.find("has 6 bytes, the manifest says 8") !=
              std::string::npos);
    }

    SECTION("a backup that did not finish is not one") {
        ServerPaths target{tmp / "new", tmp / "new/fetchml.db", tmp / "new/store",
                           tmp / "new/runs"};
        std::filesystem::create_directories(target.stateDir);
        // A later backup replaced the database and stopped before its manifest.
        writeTestFile(dir + "/fetchml.db", readTestFile(dir + "/fetchml.db") + "x", 0600);
        auto mismatch = restoreServer(dir, target, {});
        REQUIRE_FALSE(mismatch.ok());
        CHECK(mismatch.error().message.find("is not the database backup-manifest lists") !=
              std::string::npos);
        ::unlink((dir + "/backup-manifest").c_str());
        auto none = restoreServer(dir, target, {});
        REQUIRE_FALSE(none.ok());
        CHECK(none.error().code == ErrorCode::NotFound);
        CHECK(none.error().message.find("has no backup-manifest") != std::string::npos);
    }
}

TEST_CASE("the process holding a database is named", "[ctl][backup]") {
    StoreTempDir tmp;
    const std::string path = tmp / "x.db";
    auto db = Database::open(path);
    REQUIRE(db.ok());
    // Our own locks are not reported by F_GETLK: another process must hold one.
    CHECK(databaseLockHolder(path).empty());
    CHECK(databaseLockHolder(tmp / "missing.db").empty());
}
