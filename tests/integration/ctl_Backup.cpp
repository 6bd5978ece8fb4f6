// `fetchmlctl backup` and `restore` end to end (docs/backups.md): a real stack
// (scripts/dev-stack: fetchmld, fetchml-workerd with rootless podman, fetchml-httpsd) runs jobs
// to completion, then more are submitted while a backup is taken of the RUNNING server; a
// second backup into the same directory copies no blob; the backups are restored into a
// second stack, where every job (state, parameters, metrics, results), every result tree,
// every blob and the logs of the first are found, and results download over HTTPS with the
// first server's API key. A damaged blob in a backup is refused on restore.

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/Sha256.hpp"
#include "support/DevStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

// fetchmlctl against one stack: over its bus as this test's user (root: admin), or over HTTPS
// with an API key.
CommandResult ctl(const DevStack& stack, std::vector<std::string> args,
                  const std::string& key = "") {
    std::vector<std::string> env = stack.env();
    env.push_back(key.empty() ? "FETCHML_SERVER=" : "FETCHML_API_KEY=" + key);
    env.push_back("FETCHML_CONFIG=");
    args.insert(args.begin(), binaryPath("fetchmlctl"));
    return run(args, env);
}

// backup/restore against a stack's state, through its configuration file.
CommandResult admin(const DevStack& stack, std::vector<std::string> args) {
    args.push_back("--server-config");
    args.push_back(stack.path("etc/fetchml.yaml"));
    return ctl(stack, std::move(args));
}

json backupJson(const DevStack& stack, const std::string& dir) {
    auto r = admin(stack, {"backup", dir, "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
}

json jobs(const DevStack& stack) {
    auto r = ctl(stack, {"status", "--limit", "1000", "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    return json::parse(r.out);
}

std::map<std::string, json> jobsById(const DevStack& stack) {
    std::map<std::string, json> out;
    for (const auto& job : jobs(stack)) {
        out[job.at("id").get<std::string>()] = job;
    }
    return out;
}

bool isFinal(const json& job) {
    const auto s = job.value("state", "");
    return s == "succeeded" || s == "failed" || s == "cancelled";
}

void waitAllFinished(const DevStack& stack) {
    json last;
    bool done = waitUntil(
        [&] {
            last = jobs(stack);
            for (const auto& job : last) {
                if (!isFinal(job)) {
                    return false;
                }
            }
            return true;
        },
        600000, 500);
    INFO(last.dump());
    REQUIRE(done);
}

// Blob hash -> size of every blob in a store directory.
std::map<std::string, std::uintmax_t> storeBlobs(const std::string& store) {
    std::map<std::string, std::uintmax_t> out;
    namespace fs = std::filesystem;
    for (const auto& fanout : fs::directory_iterator(store + "/objects/sha256")) {
        for (const auto& blob : fs::directory_iterator(fanout.path())) {
            out[fanout.path().filename().string() + blob.path().filename().string()] =
                fs::file_size(blob.path());
        }
    }
    return out;
}

// The fields a restored job must keep.
void checkSameJob(const json& restored, const json& original) {
    INFO(original.dump() << "\n" << restored.dump());
    for (const char* key : {"id", "state", "params", "metrics", "results", "commit", "exit_code",
                            "user", "command", "image", "submitted_at", "finished_at"}) {
        INFO(key);
        CHECK(restored.at(key) == original.at(key));
    }
}

void checkResults(const DevStack& stack, const std::string& key, const std::string& id) {
    TempDir dl;
    auto r = ctl(stack, {"results", id, "--download", dl.path()}, key);
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(readFile(dl.sub("sub/model.txt")) == "model of " + id + "\n");
}

std::string apiKey(const DevStack& stack) {
    auto add = ctl(stack, {"user", "add", "alice", "--role", "researcher"});
    INFO(add.err);
    REQUIRE(add.exitCode == 0);
    auto lines = DevStack::splitLines(add.out);
    REQUIRE(!lines.empty());
    return lines.back();
}

const char* kScript =
    "echo \"job $FETCHML_JOB_ID lr=$FETCHML_PARAM_lr\"\n"
    "echo fetchml:metric step=1 loss=$FETCHML_PARAM_lr\n"
    "sleep ${FETCHML_PARAM_sleep:-0}\n"
    "mkdir -p /workspace/results/sub\n"
    "echo \"model of $FETCHML_JOB_ID\" > /workspace/results/sub/model.txt\n"
    "echo fetchml:metric step=2 loss=0.0$FETCHML_PARAM_lr\n";

}  // namespace

TEST_CASE("a running server is backed up, incrementally, and restored elsewhere whole",
          "[ctl][backup][stack]") {
    DevStack a(2);
    const std::string key = apiKey(a);
    TempDir tmp;
    mkdir(tmp.sub("exp").c_str(), 0755);
    writeFile(tmp.sub("exp/run.sh"), kScript);
    writeFile(tmp.sub("exp/data.csv"), "x,y\n1,2\n");

    // Jobs that ran to completion, with results and metrics: one sweep of three.
    auto sweep = ctl(a,
                     {"queue", tmp.sub("exp"), "--image", "rootfs:busybox", "--param", "lr=1,2,3",
                      "--", "sh", "run.sh"},
                     key);
    INFO(sweep.out << sweep.err);
    REQUIRE(sweep.exitCode == 0);
    const auto finishedFirst = DevStack::splitLines(sweep.out);
    REQUIRE(finishedFirst.size() == 3);
    waitAllFinished(a);

    // More submissions while the backup runs: each from its own tree (new blobs, new
    // commits), each job running a few seconds.
    for (int i = 0; i < 4; ++i) {
        const std::string dir = tmp.sub("more" + std::to_string(i));
        mkdir(dir.c_str(), 0755);
        writeFile(dir + "/run.sh", kScript);
        writeFile(dir + "/notes.txt", "submission " + std::to_string(i) + "\n");
    }
    std::atomic<int> submitted{0};
    std::atomic<int> failedSubmissions{0};
    std::thread client([&] {
        for (int i = 0; i < 4; ++i) {
            auto r = ctl(a,
                         {"queue", tmp.sub("more" + std::to_string(i)), "--image", "rootfs:busybox",
                          "--param", "lr=" + std::to_string(4 + i), "--param", "sleep=2", "--",
                          "sh", "run.sh"},
                         key);
            (r.exitCode == 0 ? submitted : failedSubmissions)++;
            ::usleep(300 * 1000);
        }
    });
    bool running = waitUntil(
        [&] {
            auto r = ctl(a, {"status", "--state", "running", "--json"});
            return r.exitCode == 0 && json::parse(r.out).size() > 0;
        },
        300000, 100);
    const std::string b1 = tmp.sub("backup-live");
    json live;
    if (running) {
        live = backupJson(a, b1);  // while jobs run and the client submits
    }
    client.join();
    REQUIRE(running);
    REQUIRE(failedSubmissions == 0);
    REQUIRE(submitted == 4);
    INFO(live.dump());
    CHECK(live.at("jobs").get<int>() >= 4);
    CHECK(live.at("blobs").get<int>() > 0);
    CHECK(live.at("blobs_copied") == live.at("blobs"));
    CHECK(live.at("blobs_skipped") == 0);
    CHECK(live.at("database_bytes").get<int>() > 0);
    CHECK(live.at("logs").get<int>() >= 3);
    struct stat st {};
    REQUIRE(::stat(b1.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    // Quiet again: a full backup, then another into the same directory copies nothing.
    waitAllFinished(a);
    const std::string b2 = tmp.sub("backup-full");
    auto full = backupJson(a, b2);
    INFO(full.dump());
    auto again = backupJson(a, b2);
    INFO(again.dump());
    CHECK(again.at("blobs") == full.at("blobs"));
    CHECK(again.at("blobs_copied") == 0);
    CHECK(again.at("blobs_skipped") == full.at("blobs"));
    CHECK(again.at("bytes_copied") == 0);
    CHECK(again.at("logs_copied") == 0);
    CHECK(again.at("jobs") == 7);
    auto text = admin(a, {"backup", b2});
    INFO(text.out << text.err);
    REQUIRE(text.exitCode == 0);
    CHECK(text.out.find("backup " + b2 + ": 7 jobs, database ") == 0);
    CHECK(text.out.find(" (0 copied, ") != std::string::npos);

    const auto original = jobsById(a);
    REQUIRE(original.size() == 7);
    const auto originalBlobs = storeBlobs(a.path("state/store"));
    const std::string firstLog = ctl(a, {"logs", finishedFirst[0]}).out;
    REQUIRE(firstLog.find("job " + finishedFirst[0]) != std::string::npos);

    // Another server.
    DevStack b(1);
    auto refusedLive = admin(b, {"restore", b1});
    INFO(refusedLive.out << refusedLive.err);
    CHECK(refusedLive.exitCode == 1);
    CHECK(refusedLive.err.find("is in use by another process (pid ") != std::string::npos);
    CHECK(refusedLive.err.find("fetchmld)") != std::string::npos);
    CHECK(refusedLive.err.find("stop fetchmld") != std::string::npos);
    b.command("stop-fetchmld");

    // The backup taken while jobs ran, into a new server.
    {
        auto restored = admin(b, {"restore", b1, "--json"});
        INFO(restored.out << restored.err);
        REQUIRE(restored.exitCode == 0);
        auto summary = json::parse(restored.out);
        CHECK(summary.at("jobs") == live.at("jobs"));
        CHECK(summary.at("blobs") == live.at("blobs"));
        CHECK(summary.at("blobs_stored") == live.at("blobs"));
        CHECK(summary.at("logs") == live.at("logs"));
        b.command("start-fetchmld");

        auto restoredJobs = jobsById(b);
        CHECK(restoredJobs.size() == live.at("jobs").get<std::size_t>());
        for (const auto& id : finishedFirst) {
            REQUIRE(restoredJobs.count(id) == 1);
            checkSameJob(restoredJobs.at(id), original.at(id));
            checkResults(b, key, id);
        }
        CHECK(ctl(b, {"logs", finishedFirst[0]}).out == firstLog);
        // Every job of the snapshot is one of the first server's. Those that were running are
        // lost on the new server (failed); those still queued run there, from the restored
        // store, and give the same results.
        waitAllFinished(b);
        for (const auto& [id, job] : jobsById(b)) {
            INFO(job.dump());
            REQUIRE(original.count(id) == 1);
            if (job.at("state") == "succeeded") {
                CHECK(job.at("metrics") == original.at(id).at("metrics"));
                checkResults(b, key, id);
            } else {
                CHECK(job.at("state") == "failed");
            }
        }
    }
    b.command("stop-fetchmld");

    // A damaged copy of the full backup: one blob changed, its size kept. Refused, naming the
    // blob, and the database stays as it was.
    const std::string b3 = tmp.sub("backup-damaged");
    auto cp = run({"cp", "-a", b2, b3});
    REQUIRE(cp.exitCode == 0);
    const auto damagedHash = originalBlobs.rbegin()->first;
    const std::string damaged =
        b3 + "/store/objects/sha256/" + damagedHash.substr(0, 2) + "/" + damagedHash.substr(2);
    ::chmod(damaged.c_str(), 0644);
    std::string bytes = readFile(damaged);
    REQUIRE(!bytes.empty());
    bytes[0] = static_cast<char>(bytes[0] ^ 1);
    writeFile(damaged, bytes, 0444);
    const std::string dbBefore = readFile(b.path("state/fetchml.db"));
    auto refused = admin(b, {"restore", b3, "--force"});
    INFO(refused.out << refused.err);
    CHECK(refused.exitCode == 1);
    CHECK(refused.err.find("blob " + damagedHash) != std::string::npos);
    CHECK(refused.err.find("damaged") != std::string::npos);
    CHECK(readFile(b.path("state/fetchml.db")) == dbBefore);

    // The server holds data now: the full backup replaces it only with --force.
    auto notEmpty = admin(b, {"restore", b2});
    INFO(notEmpty.out << notEmpty.err);
    CHECK(notEmpty.exitCode == 1);
    CHECK(notEmpty.err.find("already holds data") != std::string::npos);
    CHECK(notEmpty.err.find("--force") != std::string::npos);
    auto forced = admin(b, {"restore", b2, "--force"});
    INFO(forced.out << forced.err);
    REQUIRE(forced.exitCode == 0);
    CHECK(forced.out.find("restored " + b2 + ": 7 jobs, database ") == 0);
    b.command("start-fetchmld");

    // Every job, result tree, blob and log of the first server.
    auto restoredJobs = jobsById(b);
    REQUIRE(restoredJobs.size() == original.size());
    for (const auto& [id, job] : original) {
        REQUIRE(restoredJobs.count(id) == 1);
        checkSameJob(restoredJobs.at(id), job);
        CHECK(job.at("state") == "succeeded");
        checkResults(b, key, id);  // over HTTPS, with the first server's key
    }
    CHECK(ctl(b, {"logs", finishedFirst[0]}).out == firstLog);
    struct stat state {};
    REQUIRE(::stat(b.path("state").c_str(), &state) == 0);
    const auto restoredBlobs = storeBlobs(b.path("state/store"));
    for (const auto& [hash, size] : originalBlobs) {
        INFO(hash);
        REQUIRE(restoredBlobs.count(hash) == 1);
        CHECK(restoredBlobs.at(hash) == size);
        const std::string path =
            b.path("state/store/objects/sha256/" + hash.substr(0, 2) + "/" + hash.substr(2));
        CHECK(fetchml::Sha256::hashFile(path).value() == hash);
        struct stat blob {};
        REQUIRE(::stat(path.c_str(), &blob) == 0);
        CHECK((blob.st_mode & 0777) == 0444);
        CHECK(blob.st_uid == state.st_uid);  // fetchml's when the test runs as root
    }

    // The restored server runs new jobs; their ids continue after the restored ones.
    auto next = ctl(b,
                    {"queue", tmp.sub("exp"), "--image", "rootfs:busybox", "--param", "lr=9", "--",
                     "sh", "run.sh"},
                    key);
    INFO(next.out << next.err);
    REQUIRE(next.exitCode == 0);
    const std::string nextId = DevStack::splitLines(next.out).at(0);
    CHECK(original.count(nextId) == 0);
    waitAllFinished(b);
    CHECK(jobsById(b).at(nextId).at("state") == "succeeded");
    checkResults(b, key, nextId);
}

TEST_CASE("backup refuses a configuration with no fetchmld state, writing nothing",
          "[integration][ctl][backup]") {
    // A host where fetchmld never ran (or a wrong --server-config): the state directory exists
    // but holds no database. Nothing may be created, neither the backup nor anything in it.
    TempDir tmp;
    std::filesystem::create_directories(tmp.sub("state"));
    writeFile(tmp.sub("fetchml.yaml"), "paths:\n  state_dir: " + tmp.sub("state") + "\n");
    auto r = run({binaryPath("fetchmlctl"), "backup", tmp.sub("state/backups"), "--server-config",
                  tmp.sub("fetchml.yaml")},
                 {"FETCHML_SERVER=", "FETCHML_CONFIG="});
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("no fetchmld database at " + tmp.sub("state/fetchml.db") +
                     " (is this fetchmld's configuration? see --server-config)") !=
          std::string::npos);
    CHECK(std::filesystem::is_empty(tmp.sub("state")));
}
