// The store's garbage collection through the real stack (scripts/dev-stack: private bus,
// fetchmld, socket-activated fetchml-workerd running rootless podman, fetchml-httpsd), with a
// grace period of seconds (store.gc_grace_s) so that trees age within a test:
// - what `fetchmlctl prune` collects: the code and results of pruned jobs go, those of kept
//   jobs, pinned trees and trees recorded within the grace period stay; --dry-run removes
//   nothing; pins over D-Bus and HTTPS;
// - a race: clients sync and queue new and old trees (some sharing blobs with trees being
//   collected) over HTTPS and D-Bus while jobs run and an admin prunes again and again. No
//   queue fails, every job succeeds (its script checks its code against checksums), and every
//   recorded tree, every job's commit and every job's results tree keeps all its blobs.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "support/DevStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

class Stack : public DevStack {
public:
    /// graceS: store.gc_grace_s.
    explicit Stack(int graceS) : DevStack(3, {"FETCHML_DEV_GC_GRACE_S=" + std::to_string(graceS)}) {
        auto add = ctl({"user", "add", "alice", "--role", "researcher"});
        INFO(add.err);
        REQUIRE(add.exitCode == 0);
        auto lines = splitLines(add.out);
        REQUIRE(!lines.empty());
        key_ = lines.back();
    }

    /// fetchmlctl: over the bus as root (an admin), or through the edge as alice.
    CommandResult ctl(std::vector<std::string> args, bool https = false) const {
        std::vector<std::string> env = this->env();
        env.push_back(https ? "FETCHML_API_KEY=" + key_ : "FETCHML_SERVER=");
        args.insert(args.begin(), binaryPath("fetchmlctl"));
        return run(args, env);
    }
    json ctlJson(std::vector<std::string> args, bool https = false) const {
        auto r = ctl(std::move(args), https);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        return json::parse(r.out);
    }

    /// Queues `sh run.sh` of dir; the job id.
    std::string queue(const std::string& dir, bool https = true) const {
        auto r = ctl({"queue", dir, "--image", "rootfs:busybox", "--", "sh", "run.sh"}, https);
        INFO(r.out << r.err);
        REQUIRE(r.exitCode == 0);
        return splitLines(r.out).at(0);
    }
    json job(const std::string& id) const {
        auto r = ctl({"status", id, "--json"});
        return r.exitCode == 0 ? json::parse(r.out) : json::object();
    }
    json waitFinished(const std::string& id) const {
        json j;
        bool done = waitUntil(
            [&] {
                j = job(id);
                auto s = j.value("state", "");
                return s == "succeeded" || s == "failed" || s == "cancelled";
            },
            300000, 200);
        INFO(j.dump());
        REQUIRE(done);
        return j;
    }

    /// Whether the store holds the blob of these bytes.
    bool stored(const std::string& content) const {
        const std::string hash = fetchml::Sha256::hashBuffer(content);
        struct stat st {};
        return ::stat(storePath(hash).c_str(), &st) == 0;
    }
    std::string storePath(const std::string& hash) const {
        return path("state/store/objects/sha256/" + hash.substr(0, 2) + "/" + hash.substr(2));
    }

    /// Rows of a query on fetchmld's database (sqlite3 -json, read-only).
    json query(const std::string& sql) const {
        auto r = run({"sqlite3", "-readonly", "-json", path("state/fetchml.db"), sql});
        INFO(r.err);
        REQUIRE(r.exitCode == 0);
        return r.out.find_first_not_of(" \n") == std::string::npos ? json::array()
                                                                   : json::parse(r.out);
    }

    /// The invariant clients rely on: every recorded tree has all its blobs, and every job's
    /// commit and results tree are recorded. Returns how many trees were checked.
    std::size_t checkStore() const {
        std::size_t trees = 0;
        for (const auto& row : query("SELECT id, manifest FROM commits")) {
            auto manifest = fetchml::Manifest::parse(row.at("manifest").get<std::string>());
            REQUIRE(manifest.ok());
            for (const auto& hash : manifest->blobHashes()) {
                struct stat st {};
                INFO("tree " << row.at("id") << " lacks blob " << hash);
                CHECK(::stat(storePath(hash).c_str(), &st) == 0);
            }
            ++trees;
        }
        auto orphans = query(
            "SELECT j.seq, j.commit_id, j.results FROM jobs j WHERE "
            "NOT EXISTS (SELECT 1 FROM commits c WHERE c.id = j.commit_id) OR "
            "(j.results != '' AND NOT EXISTS (SELECT 1 FROM commits c WHERE c.id = j.results))");
        INFO(orphans.dump());
        CHECK(orphans.empty());
        return trees;
    }

private:
    std::string key_;
};

/// A tree for `sh run.sh`: the files of `files`, a SUMS file, and run.sh, which checks the
/// code against SUMS (a job whose code lost a blob fails) and copies unique.txt into its
/// results, so results trees share blobs with code trees. Returns the content of SUMS.
std::string writeTree(const std::string& dir, const std::map<std::string, std::string>& files) {
    mkdir(dir.c_str(), 0755);
    std::string sums;
    for (const auto& [name, content] : files) {
        writeFile(dir + "/" + name, content);
        sums += fetchml::Sha256::hashBuffer(content) + "  " + name + "\n";
    }
    writeFile(dir + "/SUMS", sums);
    writeFile(dir + "/run.sh",
              "set -e\nsha256sum -c SUMS\ncp unique.txt /workspace/results/\n"
              "echo \"results of $FETCHML_JOB_ID\" > /workspace/results/id.txt\n");
    return sums;
}

std::string resultsOf(const std::string& id) {
    return "results of " + id + "\n";
}

std::set<std::string> ids(const json& list) {
    std::set<std::string> out;
    for (const auto& id : list) {
        out.insert(id.get<std::string>());
    }
    return out;
}

}  // namespace

TEST_CASE("prune collects the code and results of pruned jobs, keeps the rest", "[stack][gc]") {
    Stack stack(6);
    const std::string shared = "shared by trees a and b\n";
    const std::string a = "only in tree a\n", b = "only in tree b\n";
    const std::string c = "only in tree c, pinned\n", d = "only in tree d, synced late\n";
    const std::string sumsA =
        writeTree(stack.path("a"), {{"unique.txt", a}, {"shared.txt", shared}});
    writeTree(stack.path("b"), {{"unique.txt", b}, {"shared.txt", shared}});
    writeTree(stack.path("c"), {{"unique.txt", c}});
    writeTree(stack.path("d"), {{"unique.txt", d}});

    const std::string first = stack.queue(stack.path("a"));
    REQUIRE(stack.waitFinished(first).at("state") == "succeeded");
    const json second = stack.waitFinished(stack.queue(stack.path("b")));
    REQUIRE(second.at("state") == "succeeded");
    const json firstJob = stack.job(first);
    auto synced = stack.ctl({"sync", stack.path("c")}, true);
    REQUIRE(synced.exitCode == 0);
    const std::string treeC = DevStack::splitLines(synced.out).at(0);

    // Pins: only admins add and remove them (store.pin); anyone with store.read lists them.
    CHECK(stack.ctl({"pin", "add", treeC}, true).exitCode == 3);
    auto pinned = stack.ctlJson({"pin", "add", treeC, "--note", "figure 3", "--json"});
    CHECK(pinned.at("kind") == "commit");
    CHECK(pinned.at("note") == "figure 3");
    auto listed = stack.ctlJson({"pin", "list", "--json"}, true);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("target") == treeC);
    CHECK(stack.ctl({"pin", "add", std::string(64, 'e')}).exitCode == 2);  // not recorded

    // Everything so far ages past the grace period; tree d is synced after that.
    std::this_thread::sleep_for(std::chrono::seconds(7));
    REQUIRE(stack.ctl({"sync", stack.path("d")}, true).exitCode == 0);

    // Prune the first job: a dry run reports its code and results trees and the three blobs
    // only they name (tree a's unique.txt and SUMS, the job's id.txt), and removes nothing.
    const std::vector<std::string> prune{"prune", "--state", "succeeded", "--keep-last", "1"};
    auto dryArgs = prune;
    dryArgs.insert(dryArgs.end(), {"--dry-run", "--json"});
    auto dry = stack.ctlJson(dryArgs);
    INFO(dry.dump());
    CHECK(dry.at("pruned") == json{first});
    CHECK(ids(dry.at("trees_removed")) ==
          std::set<std::string>{firstJob.at("commit").get<std::string>(),
                                firstJob.at("results").get<std::string>()});
    CHECK(dry.at("blobs_removed") == 3);
    CHECK(dry.at("bytes_freed") == a.size() + sumsA.size() + resultsOf(first).size());
    CHECK(dry.at("gc_skipped") == "");
    CHECK(dry.at("dry_run") == true);
    CHECK(stack.stored(a));
    CHECK(stack.job(first).value("state", "") == "succeeded");

    auto done = stack.ctl(prune);
    INFO(done.out << done.err);
    REQUIRE(done.exitCode == 0);
    CHECK(done.out == "pruned 1 jobs\n" + first + "\n");
    CHECK(done.err.find("store: removed 2 trees and 3 blobs") != std::string::npos);
    CHECK_FALSE(stack.stored(a));
    CHECK_FALSE(stack.stored(sumsA));
    CHECK_FALSE(stack.stored(resultsOf(first)));
    for (const auto& kept : {shared, b, c, d, resultsOf(second.at("id").get<std::string>())}) {
        INFO(kept);
        CHECK(stack.stored(kept));
    }
    CHECK(stack.checkStore() == 4);  // b and its results, c (pinned), d (young)

    // Unpinned, tree c goes with the next prune; tree d is still within its grace period.
    CHECK(stack.ctl({"pin", "rm", treeC}, true).exitCode == 3);
    REQUIRE(stack.ctl({"pin", "rm", treeC}).exitCode == 0);
    CHECK(stack.ctlJson({"pin", "list", "--json"}).empty());
    auto later = stack.ctlJson({"prune", "--state", "failed", "--json"});
    CHECK(later.at("pruned").empty());
    CHECK(ids(later.at("trees_removed")) == std::set<std::string>{treeC});
    CHECK_FALSE(stack.stored(c));
    CHECK(stack.stored(d));
    CHECK(stack.checkStore() == 3);

    // The first job's code is gone from the store, so `queue` sends tree a again.
    const std::string again = stack.queue(stack.path("a"));
    CHECK(stack.waitFinished(again).at("state") == "succeeded");
    CHECK(stack.stored(a));
    stack.checkStore();

    // Prune is for admins over HTTPS too; the audit log has the counts.
    CHECK(stack.ctl({"prune", "--state", "failed"}, true).exitCode == 3);  // alice: denied
    const std::string log = readFile(stack.path("logs/fetchmld.log"));
    CHECK(log.find("pruned 1 finished jobs, 2 trees and 3 blobs") != std::string::npos);
    CHECK(log.find("action=pin.add result=ok") != std::string::npos);
}

TEST_CASE("prune races uploads, queues and running jobs without losing a blob", "[stack][gc]") {
    // A short grace period, so that trees are collected while the race runs; clients take
    // well under half of it from MissingBlobs to PutManifest.
    Stack stack(5);
    constexpr int kClients = 3;
    constexpr int kRounds = 12;
    const auto started = std::chrono::steady_clock::now();

    struct Client {
        std::vector<std::string> jobs;
        std::vector<std::string> failures;  // "<command>: <output>"
    };
    std::vector<Client> clients(kClients);
    std::atomic<bool> stop{false};
    std::set<std::string> prunedJobs;
    std::vector<std::string> pruneFailures;
    std::uint64_t blobsRemoved = 0, treesRemoved = 0, prunes = 0;

    // The admin prunes every succeeded job but the newest, again and again, with the odd dry
    // run; each prune collects the store.
    std::thread pruner([&] {
        while (!stop) {
            std::vector<std::string> args{"prune",       "--state", "succeeded",
                                          "--keep-last", "1",       "--json"};
            const bool dry = ++prunes % 5 == 0;
            if (dry) {
                args.push_back("--dry-run");
            }
            auto r = stack.ctl(args);
            if (r.exitCode != 0) {
                pruneFailures.push_back(r.out + r.err);
            } else {
                auto answer = json::parse(r.out);
                if (!dry) {
                    for (const auto& id : answer.at("pruned")) {
                        prunedJobs.insert(id.get<std::string>());
                    }
                    blobsRemoved += answer.at("blobs_removed").get<std::uint64_t>();
                    treesRemoved += answer.at("trees_removed").size();
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });

    // Each client queues a new tree most rounds, over HTTPS or the bus; every third round it
    // queues one of its earlier trees again (its commit may be collected by then: queue sends
    // it again), and once it syncs a tree and queues it a little later. Trees share blobs with
    // one another and with trees being collected (shared-N.txt cycles through a few values).
    // A round takes about a second, so the trees of the first rounds are past the grace
    // period, with their jobs pruned, when they are queued again in the last.
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
        threads.emplace_back([&, c] {
            Client& me = clients[c];
            auto record = [&](const std::string& what, const CommandResult& r) {
                if (r.exitCode != 0) {
                    me.failures.push_back(what + ": " + r.out + r.err);
                }
                return r.exitCode == 0;
            };
            auto queue = [&](const std::string& dir, bool https) {
                auto r = stack.ctl(
                    {"queue", dir, "--image", "rootfs:busybox", "--", "sh", "run.sh"}, https);
                if (record("queue " + dir, r)) {
                    me.jobs.push_back(DevStack::splitLines(r.out).at(0));
                }
            };
            for (int round = 0; round < kRounds; ++round) {
                const bool https = (c + round) % 2 == 0;
                if (round % 3 == 2) {
                    // Rounds 2, 5, 8 and 11 queue the trees of rounds 0, 3, 6 and 0 again.
                    const int earlier = round == 5 ? 3 : round == 8 ? 6 : 0;
                    queue(stack.path("t" + std::to_string(c) + "-" + std::to_string(earlier)),
                          https);
                    continue;
                }
                const std::string dir =
                    stack.path("t" + std::to_string(c) + "-" + std::to_string(round));
                std::map<std::string, std::string> files{
                    {"unique.txt",
                     "client " + std::to_string(c) + " round " + std::to_string(round) + "\n"}};
                for (int k = 0; k < 3; ++k) {
                    files["shared-" + std::to_string(k) + ".txt"] =
                        "shared value " + std::to_string((c + round + k) % 5) + "\n";
                }
                writeTree(dir, files);
                if (round == 4) {
                    if (record("sync " + dir, stack.ctl({"sync", dir}, https))) {
                        std::this_thread::sleep_for(std::chrono::seconds(2));
                        queue(dir, !https);
                    }
                } else {
                    queue(dir, https);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(300 * (c + 1)));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }

    // Every job ends (the pruner keeps going meanwhile); then one more prune.
    std::vector<std::string> all;
    for (const auto& client : clients) {
        all.insert(all.end(), client.jobs.begin(), client.jobs.end());
    }
    CHECK(waitUntil(
        [&] {
            for (const auto& id : all) {
                // No state: pruned, which only succeeded jobs are (checked below).
                auto s = stack.job(id).value("state", "");
                if (!s.empty() && s != "succeeded" && s != "failed" && s != "cancelled") {
                    return false;
                }
            }
            return true;
        },
        600000, 500));
    stop = true;
    pruner.join();
    INFO("race took " << std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started)
                             .count()
                      << " s, " << prunes << " prunes");

    for (const auto& client : clients) {
        for (const auto& failure : client.failures) {
            FAIL_CHECK(failure);
        }
    }
    for (const auto& failure : pruneFailures) {
        FAIL_CHECK("prune: " << failure);
    }
    CHECK(all.size() == std::size_t{kClients * kRounds});
    // Every job succeeded: it still says so, or it was pruned, which takes succeeded ones only.
    for (const auto& id : all) {
        INFO(id);
        auto s = stack.job(id).value("state", "");
        CHECK((s == "succeeded" || (s.empty() && prunedJobs.count(id) != 0)));
    }
    // The collection did run during the race: pruned jobs' trees and blobs went, and some
    // trees were queued again after their collection (so sent and recorded again).
    INFO(prunedJobs.size() << " jobs, " << treesRemoved << " trees, " << blobsRemoved
                           << " blobs removed");
    CHECK(prunedJobs.size() > std::size_t{kClients});
    CHECK(treesRemoved > 0);
    CHECK(blobsRemoved > 0);
    const std::string log = readFile(stack.path("logs/fetchmld.log"));
    const std::string removed = " removed from the store's records";
    std::set<std::string> recordedAgain;
    for (auto at = log.find(removed); at != std::string::npos; at = log.find(removed, at + 1)) {
        const std::string id = log.substr(at - 64, 64);
        if (log.find("recorded commit " + id, at) != std::string::npos) {
            recordedAgain.insert(id);
        }
    }
    CHECK(!recordedAgain.empty());
    stack.checkStore();
}
