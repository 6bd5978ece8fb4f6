// Crash safety of submissions: a client submits 1,000 jobs over the (private) system bus while
// fetchmld is killed with SIGKILL at random moments and started again. A kill comes after a
// random number of acknowledged submissions (1 to 60) and a random delay (0 to 5 ms) on top, so
// it lands anywhere in a call, and every restart lets the client progress however slow the
// machine (a kill on a timer alone starved the client under the sanitizers on a slow host). Every
// submission that was acknowledged must exist afterwards, exactly as submitted, and the database
// must be intact (issue 5: "an accepted submission is durable before it is acknowledged").
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "store/Manifest.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;

namespace {

// fetchmld alone (no worker, so nothing is dispatched) on a private bus.
class Scheduler {
public:
    Scheduler() : bus_((mkdir(tmp_.sub("bus").c_str(), 0755), tmp_.sub("bus"))) {
        writeFile(tmp_.sub("fetchml.yaml"), "paths:\n  state_dir: " + tmp_.sub("state") +
                                                "\n  runtime_dir: " + tmp_.sub("run") +
                                                "\nlog:\n  level: info\n  target: console\n");
        start();
    }
    void start() {
        SpawnOptions o;
        o.argv = {binaryPath("fetchmld"), "--config", tmp_.sub("fetchml.yaml")};
        o.env = {bus_.envEntry()};
        o.stderrPath = tmp_.sub("fetchmld.log");
        daemon_.emplace(Process::spawn(o));
        bool up = bus_.waitForName("org.fetchml.Scheduler1", *daemon_);
        INFO(readFile(tmp_.sub("fetchmld.log")));
        REQUIRE(up);
    }
    // SIGKILL: no shutdown code of fetchmld runs.
    void crash() {
        CHECK(daemon_->stop(9, 0) == 128 + 9);
        daemon_.reset();
    }
    void stop() {
        CHECK(daemon_->stop() == 0);
        daemon_.reset();
    }
    std::unique_ptr<BusClient> client() const {
        return std::make_unique<BusClient>(
            sdbus::createSessionBusConnectionWithAddress(bus_.address()));
    }
    std::string database() const { return tmp_.sub("state/fetchml.db"); }
    std::string path(const std::string& sub) const { return tmp_.sub(sub); }

private:
    TempDir tmp_;
    DbusDaemon bus_;
    std::optional<Process> daemon_;
};

std::string integrityOf(const std::string& path) {
    sqlite3* db = nullptr;
    std::string result = "cannot open";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return result;
}

/// The commit of an empty tree, recorded with fetchmld (a commit without blobs).
std::string emptyCommit(Scheduler& server) {
    mkdir(server.path("exp").c_str(), 0755);
    auto manifest = fetchml::Manifest::scan(server.path("exp"));
    REQUIRE(manifest.ok());
    server.client()->PutManifest({{"manifest", sdbus::Variant(manifest->text())}});
    return manifest->commitId();
}

}  // namespace

TEST_CASE("every acknowledged submission survives SIGKILL of fetchmld", "[fetchmld][crash]") {
    constexpr int kJobs = 1000;
    Scheduler server;
    const std::string commit = emptyCommit(server);

    std::map<int, std::string> acknowledged;  // submission number -> job id
    std::atomic<int> failedCalls{0};
    std::atomic<int> acknowledgedCount{0};
    std::atomic<bool> done{false};
    // Liveness: a fetchmld that owns its name but answers nothing for 120 s (each call gives
    // up after sd-bus's 25 s) is a bug; report it rather than wait for ctest's timeout.
    std::atomic<bool> stalled{false};
    std::string lastError;
    std::thread submitter([&] {
        auto client = server.client();
        auto lastAnswer = std::chrono::steady_clock::now();
        for (int i = 0; i < kJobs;) {
            try {
                auto job = client->SubmitJob(
                    {{"commit", sdbus::Variant(commit)},
                     {"command", sdbus::Variant(std::vector<std::string>{"true"})},
                     {"name", sdbus::Variant("c" + std::to_string(i))},
                     {"priority", sdbus::Variant(std::int32_t(i % 7))}});
                acknowledged[i] = job.at("id").get<std::string>();
                ++i;
                ++acknowledgedCount;
                lastAnswer = std::chrono::steady_clock::now();
            } catch (const sdbus::Error& e) {
                // No answer (killed mid-call) or no owner of the name (down): the submission
                // may or may not exist; try the same number again.
                ++failedCalls;
                if (std::chrono::steady_clock::now() - lastAnswer > std::chrono::seconds(120)) {
                    lastError = e.getName() + ": " + e.getMessage();
                    stalled = true;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        done = true;
    });
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> progress(1, 60);
    std::uniform_int_distribution<int> delayUs(0, 5000);
    int kills = 0;
    while (!done) {
        const int killAt = acknowledgedCount + progress(random);
        while (!done && acknowledgedCount < killAt) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(delayUs(random)));
        if (done) {
            break;
        }
        server.crash();
        ++kills;
        server.start();
    }
    submitter.join();
    INFO(kills << " kills, " << failedCalls << " failed calls, " << acknowledgedCount
               << " acknowledged");
    if (stalled) {
        FAIL("no submission acknowledged for 120 s; last error: "
             << lastError << "\nfetchmld's log:\n"
             << readFile(server.path("fetchmld.log")));
    }
    server.crash();
    CHECK(kills >= 3);
    CHECK(integrityOf(server.database()) == "ok");

    server.start();
    auto client = server.client();
    std::set<std::string> ids;
    for (const auto& [i, id] : acknowledged) {
        auto job = client->GetJob({{"id", sdbus::Variant(id)}});
        CHECK(job.at("name").get<std::string>() == "c" + std::to_string(i));
        CHECK(job.at("state").get<std::string>() == "queued");
        CHECK(job.at("priority").get<std::int32_t>() == i % 7);
        ids.insert(id);
    }
    CHECK(ids.size() == static_cast<std::size_t>(kJobs));
    // Besides the acknowledged ones, at most one job per call that got no answer.
    auto all = client->ListJobs({{"limit", sdbus::Variant(std::uint64_t{10000})}});
    CHECK(all.size() >= static_cast<std::size_t>(kJobs));
    CHECK(all.size() <= static_cast<std::size_t>(kJobs + failedCalls));
    client.reset();
    server.stop();
}

// A sweep is answered as one record and its jobs are stored right after the answer
// (decisions.md "Sweeps: one record, expanded after the answer"): a SIGKILL soon after the
// answer often lands before or during that expansion. Every acknowledged sweep must still have
// exactly its jobs, under the ids it was answered with, once fetchmld is back.
TEST_CASE("every acknowledged sweep has all its jobs after SIGKILL of fetchmld",
          "[fetchmld][crash][sweep]") {
    // Large sweeps: storing 2,000 jobs takes long enough for kills to land inside it.
    constexpr int kSweeps = 8;
    constexpr int kSize = 2000;
    Scheduler server;
    const std::string commit = emptyCommit(server);
    std::vector<std::string> values;
    for (int v = 0; v < kSize; ++v) {
        values.push_back(std::to_string(v));
    }

    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> delayUs(0, 8000);
    std::map<std::string, std::vector<std::string>> answered;  // sweep id -> job ids
    int kills = 0;
    int failedCalls = 0;
    for (int s = 0; s < kSweeps;) {
        try {
            auto client = server.client();
            auto reply = client->SubmitSweep(
                {{"commit", sdbus::Variant(commit)},
                 {"command", sdbus::Variant(std::vector<std::string>{"true"})},
                 {"name", sdbus::Variant("sweep" + std::to_string(s))},
                 {"sweep",
                  sdbus::Variant(std::vector<std::map<std::string, sdbus::Variant>>{
                      {{"name", sdbus::Variant("i")}, {"values", sdbus::Variant(values)}}})}});
            answered[reply.at("sweep").get<std::string>()] =
                reply.at("jobs").get<std::vector<std::string>>();
            ++s;
        } catch (const sdbus::Error&) {
            ++failedCalls;  // killed before it answered: it may or may not exist
        }
        // Most sweeps: killed soon after the answer, while the jobs may be being stored.
        if (s % 4 != 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(delayUs(random)));
            server.crash();
            ++kills;
            server.start();
        }
    }
    server.crash();
    CHECK(integrityOf(server.database()) == "ok");
    server.start();

    auto client = server.client();
    std::set<std::string> seen;
    for (const auto& [sweep, ids] : answered) {
        REQUIRE(ids.size() == static_cast<std::size_t>(kSize));
        auto listed = client->ListJobs(
            {{"sweep", sdbus::Variant(sweep)}, {"limit", sdbus::Variant(std::uint64_t{10000})}});
        INFO(sweep << " after " << kills << " kills");
        CHECK(listed.size() == static_cast<std::size_t>(kSize));
        std::map<std::string, std::string> valueOf;  // job id -> its parameter i
        for (const auto& job : listed) {
            CHECK(job.at("state").get<std::string>() == "queued");
            valueOf[job.at("id").get<std::string>()] =
                job.at("params").get<std::map<std::string, std::string>>().at("i");
        }
        for (std::size_t v = 0; v < ids.size(); ++v) {
            CHECK(valueOf[ids[v]] == std::to_string(v));  // the id it was answered with
            CHECK(seen.insert(ids[v]).second);            // no id answered twice
        }
    }
    CHECK(answered.size() == static_cast<std::size_t>(kSweeps));
    std::size_t total = 0;  // every job, in pages of 10,000
    std::string before;
    for (;;) {
        std::map<std::string, sdbus::Variant> page{{"limit", sdbus::Variant(std::uint64_t{10000})}};
        if (!before.empty()) {
            page["before"] = sdbus::Variant(before);
        }
        auto jobs = client->ListJobs(page);
        if (jobs.empty()) {
            break;
        }
        total += jobs.size();
        before = jobs.back().at("id").get<std::string>();
    }
    CHECK(total >= seen.size());
    CHECK(total <= seen.size() + static_cast<std::size_t>(failedCalls * kSize));
    client.reset();
    server.stop();
}
