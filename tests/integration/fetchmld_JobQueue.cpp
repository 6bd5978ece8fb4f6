// Conformance suite of the shared job queue (daemons/fetchmld/JobQueue.hpp): the same sections
// run against RedisJobQueue on a real redis-server (Unix socket, append-only file, in a
// temporary directory) and against SqliteJobQueue on a database file. Each "host" is its own
// connection object, as each fetchmld would be. Leases lapse by sleeping for Redis (its idle
// times follow the server's clock) and by advancing an injected clock for SQLite.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "JobQueue.hpp"
#include "RedisJobQueue.hpp"
#include "SqliteJobQueue.hpp"
#include "support/Support.hpp"

using namespace fetchml;
using namespace fetchml::test;

namespace {

// A redis-server of its own, stopped by PID (Process) at the end.
class RedisBackend {
public:
    RedisBackend() { start(); }

    std::unique_ptr<JobQueue> open(std::int64_t leaseMs) {
        auto queue = RedisJobQueue::connect(url(), "fetchml", leaseMs);
        INFO((queue ? "" : queue.error().message));
        REQUIRE(queue.ok());
        return std::move(*queue);
    }
    // Idle times are the server's: real time has to pass.
    void pass(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
    // Stops the server (SIGTERM: it syncs the append-only file) and starts it on the same dir.
    void restart() {
        CHECK(server_->stop() == 0);
        server_.reset();
        start();
    }
    std::string url() const { return "unix://" + socket_; }
    std::string dir() const { return tmp_.path(); }

private:
    void start() {
        SpawnOptions o;
        o.argv = {"redis-server",
                  "--port",
                  "0",
                  "--unixsocket",
                  socket_,
                  "--dir",
                  tmp_.path(),
                  "--appendonly",
                  "yes",
                  "--appendfsync",
                  "always",
                  "--save",
                  ""};
        o.stdoutPath = tmp_.sub("redis.log");
        o.stderrPath = tmp_.sub("redis.log");
        server_.emplace(Process::spawn(o));
        bool up = waitUntil(
            [&] {
                return !server_->running() ||
                       run({"redis-cli", "-s", socket_, "ping"}).out == "PONG\n";
            },
            30000);
        INFO(readFile(tmp_.sub("redis.log")));
        REQUIRE(up);
        REQUIRE(server_->running());
    }

    TempDir tmp_;
    std::string socket_ = tmp_.sub("redis.sock");
    std::optional<Process> server_;
};

// One database file; every connection shares one injected clock (wall clock + offset).
class SqliteBackend {
public:
    std::unique_ptr<JobQueue> open(std::int64_t leaseMs) {
        auto offset = offset_;
        auto queue = SqliteJobQueue::open(tmp_.sub("queue.db"), leaseMs,
                                          [offset] { return wallClockMs() + offset->load(); });
        INFO((queue ? "" : queue.error().message));
        REQUIRE(queue.ok());
        return std::move(*queue);
    }
    void pass(std::int64_t ms) { *offset_ += ms; }
    // The file is the state: reopening it is the restart.
    void restart() {}

private:
    TempDir tmp_;
    std::shared_ptr<std::atomic<std::int64_t>> offset_ =
        std::make_shared<std::atomic<std::int64_t>>(0);
};

std::vector<std::string> jobIdsOf(const std::vector<QueueEntry>& entries) {
    std::vector<std::string> ids;
    for (const auto& entry : entries) {
        ids.push_back(entry.jobId);
    }
    return ids;
}

template <typename T>
T get(Result<T> result) {
    INFO((result ? "" : result.error().message));
    REQUIRE(result.ok());
    return std::move(result).value();
}

void ok(const Result<void>& result) {
    INFO((result ? "" : result.error().message));
    REQUIRE(result.ok());
}

using Strings = std::vector<std::string>;

}  // namespace

TEMPLATE_TEST_CASE("JobQueue conformance", "[queue]", RedisBackend, SqliteBackend) {
    TestType backend;

    SECTION("job sequence numbers are unique and increasing across hosts") {
        auto a = backend.open(30000);
        auto b = backend.open(30000);
        CHECK(get(a->nextJobSeq()) == 1);
        CHECK(get(b->nextJobSeq()) == 2);
        CHECK(get(a->nextJobSeq()) == 3);
        CHECK(get(a->nextJobSeq()) == 4);
        CHECK(get(b->nextJobSeq()) == 5);
    }

    SECTION("the sequence can be raised, never lowered") {
        auto a = backend.open(30000);
        REQUIRE(a->raiseJobSeq(41).ok());  // a host joining with jobs up to 41 of its own
        CHECK(get(a->nextJobSeq()) == 42);
        REQUIRE(a->raiseJobSeq(7).ok());
        CHECK(get(a->nextJobSeq()) == 43);
    }

    SECTION("an empty queue has nothing to claim, reclaim or hold") {
        auto a = backend.open(300);
        CHECK(get(a->claim("host-a", 10)).empty());
        CHECK(get(a->reclaim("host-a", 10)).empty());
        CHECK(get(a->held("host-a")).empty());
        CHECK(get(a->waiting()) == 0);
        CHECK(a->leaseMs() == 300);
    }

    SECTION("entries are claimed oldest first, each by exactly one consumer") {
        auto a = backend.open(30000);
        auto b = backend.open(30000);
        // Opaque payloads come back byte for byte.
        const std::string odd = "{\"spec\": \"a b\\nc\", \"name\": \"caf\xc3\xa9\", \"t\": \"\t\"}";
        Strings ids;
        for (int i = 1; i <= 5; ++i) {
            ids.push_back(
                get(a->publish("j" + std::to_string(i), i == 3 ? odd : "p" + std::to_string(i))));
        }
        CHECK(get(a->waiting()) == 5);

        auto first = get(a->claim("host-a", 2));
        REQUIRE(first.size() == 2);
        CHECK(jobIdsOf(first) == Strings{"j1", "j2"});
        CHECK(first[0].entryId == ids[0]);
        CHECK(first[1].entryId == ids[1]);
        CHECK(first[0].payload == "p1");
        CHECK(first[0].deliveries == 1);

        auto second = get(b->claim("host-b", 10));
        CHECK(jobIdsOf(second) == Strings{"j3", "j4", "j5"});
        REQUIRE(second.size() == 3);
        CHECK(second[0].payload == odd);
        CHECK(second[0].deliveries == 1);

        CHECK(get(a->claim("host-a", 10)).empty());
        CHECK(get(b->claim("host-b", 10)).empty());
        CHECK(get(a->waiting()) == 0);
        CHECK(get(a->claim("host-a", 0)).empty());
    }

    SECTION("two hosts claiming concurrently get every entry exactly once") {
        auto publisher = backend.open(30000);
        for (int i = 0; i < 200; ++i) {
            get(publisher->publish("j" + std::to_string(i), "{}"));
        }
        // Opened here: SqliteJobQueue::open migrates, which must not race.
        std::vector<std::unique_ptr<JobQueue>> hosts;
        hosts.push_back(backend.open(30000));
        hosts.push_back(backend.open(30000));
        std::vector<Strings> claimed(2);
        std::vector<std::string> errors(2);
        std::vector<std::thread> threads;
        for (std::size_t h = 0; h < 2; ++h) {
            threads.emplace_back([&, h] {
                const std::string consumer = "host-" + std::to_string(h);
                for (;;) {
                    auto got = hosts[h]->claim(consumer, 1);
                    if (!got) {
                        errors[h] = got.error().message;
                        return;
                    }
                    if (got->empty()) {
                        return;
                    }
                    claimed[h].push_back(got->front().jobId);
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        CHECK(errors[0].empty());
        CHECK(errors[1].empty());
        std::multiset<std::string> all(claimed[0].begin(), claimed[0].end());
        all.insert(claimed[1].begin(), claimed[1].end());
        CHECK(all.size() == 200);
        CHECK(std::set<std::string>(all.begin(), all.end()).size() == 200);
        CHECK(get(publisher->waiting()) == 0);
        CHECK(get(hosts[0]->held("host-0")).size() == claimed[0].size());
        CHECK(get(hosts[1]->held("host-1")).size() == claimed[1].size());
    }

    SECTION("after a restart a consumer's claims are still its own") {
        Strings ids;
        {
            auto a = backend.open(30000);
            for (int i = 1; i <= 4; ++i) {
                ids.push_back(get(a->publish("j" + std::to_string(i), "p" + std::to_string(i))));
            }
            REQUIRE(get(a->claim("host-a", 3)).size() == 3);
        }
        auto again = backend.open(30000);
        auto held = get(again->held("host-a"));
        REQUIRE(held.size() == 3);
        CHECK(jobIdsOf(held) == Strings{"j1", "j2", "j3"});
        CHECK(held[0].entryId == ids[0]);
        CHECK(held[2].payload == "p3");
        CHECK(held[0].deliveries == 1);
        CHECK(get(again->held("host-b")).empty());
        // held() only reads: no delivery counted, nothing lapses or changes hands.
        CHECK(get(again->held("host-a"))[0].deliveries == 1);
        CHECK(get(again->reclaim("host-b", 10)).empty());
        CHECK(get(again->waiting()) == 1);
    }

    SECTION("a lapsed lease is reclaimed; the old holder learns it lost the entry") {
        auto a = backend.open(300);
        auto b = backend.open(300);
        const std::string id = get(a->publish("j1", "p1"));
        get(a->publish("j2", "p2"));
        REQUIRE(get(a->claim("host-a", 1)).size() == 1);
        CHECK(get(b->reclaim("host-b", 10)).empty());  // not lapsed yet

        backend.pass(500);
        auto taken = get(b->reclaim("host-b", 10));
        REQUIRE(taken.size() == 1);
        CHECK(taken[0].entryId == id);
        CHECK(taken[0].jobId == "j1");
        CHECK(taken[0].payload == "p1");
        CHECK(taken[0].deliveries == 2);
        CHECK(get(a->waiting()) == 1);  // reclaim takes no waiting entry

        CHECK(get(a->renew("host-a", {id})) == Strings{id});
        auto late = a->complete("host-a", id);
        REQUIRE_FALSE(late.ok());
        CHECK(late.error().code == ErrorCode::NotFound);
        CHECK(get(a->held("host-a")).empty());
        CHECK(jobIdsOf(get(b->held("host-b"))) == Strings{"j1"});

        // Lapsing again, the holder itself may reclaim it; deliveries keep counting.
        backend.pass(500);
        auto third = get(b->reclaim("host-b", 10));
        REQUIRE(third.size() == 1);
        CHECK(third[0].deliveries == 3);
        ok(b->complete("host-b", id));
        CHECK(get(b->held("host-b")).empty());
    }

    SECTION("renewing keeps an entry from being reclaimed") {
        auto a = backend.open(1000);
        auto b = backend.open(1000);
        const std::string id = get(a->publish("j1", "p1"));
        REQUIRE(get(a->claim("host-a", 1)).size() == 1);
        backend.pass(600);
        CHECK(get(a->renew("host-a", {id})).empty());
        backend.pass(600);  // 1200 ms since the claim, 600 since the renewal
        CHECK(get(b->reclaim("host-b", 10)).empty());
        CHECK(get(a->renew("host-a", {id, "999999-0", "not-an-id"})) ==
              Strings{"999999-0", "not-an-id"});
        CHECK(get(a->renew("host-a", {})).empty());
        // Renewed without counting a delivery.
        auto held = get(a->held("host-a"));
        REQUIRE(held.size() == 1);
        CHECK(held[0].deliveries == 1);
        // Someone else cannot renew it.
        CHECK(get(b->renew("host-b", {id})) == Strings{id});

        backend.pass(1200);
        auto taken = get(b->reclaim("host-b", 10));
        REQUIRE(taken.size() == 1);
        CHECK(taken[0].deliveries == 2);
    }

    SECTION("a completed entry is gone: not claimable, reclaimable or held") {
        auto a = backend.open(300);
        auto b = backend.open(300);
        const std::string first = get(a->publish("j1", "p1"));
        const std::string second = get(a->publish("j2", "p2"));
        REQUIRE(get(a->claim("host-a", 2)).size() == 2);

        auto notMine = b->complete("host-b", first);
        REQUIRE_FALSE(notMine.ok());
        CHECK(notMine.error().code == ErrorCode::NotFound);
        CHECK(get(a->held("host-a")).size() == 2);  // unchanged

        ok(a->complete("host-a", first));
        auto twice = a->complete("host-a", first);
        REQUIRE_FALSE(twice.ok());
        CHECK(twice.error().code == ErrorCode::NotFound);
        CHECK(a->complete("host-a", "garbage").error().code == ErrorCode::NotFound);
        CHECK(jobIdsOf(get(a->held("host-a"))) == Strings{"j2"});
        CHECK(get(b->claim("host-b", 10)).empty());
        CHECK(get(a->renew("host-a", {first})) == Strings{first});

        backend.pass(500);
        auto taken = get(b->reclaim("host-b", 10));
        CHECK(jobIdsOf(taken) == Strings{"j2"});
        ok(b->complete("host-b", second));
        backend.pass(500);
        CHECK(get(b->reclaim("host-b", 10)).empty());
        CHECK(get(a->claim("host-a", 10)).empty());
        CHECK(get(a->waiting()) == 0);
    }

    SECTION("waiting counts the entries no one has claimed") {
        auto a = backend.open(300);
        CHECK(get(a->waiting()) == 0);
        for (int i = 1; i <= 3; ++i) {
            get(a->publish("j" + std::to_string(i), "{}"));
        }
        CHECK(get(a->waiting()) == 3);
        auto one = get(a->claim("host-a", 1));
        REQUIRE(one.size() == 1);
        CHECK(get(a->waiting()) == 2);
        ok(a->complete("host-a", one[0].entryId));
        CHECK(get(a->waiting()) == 2);
        REQUIRE(get(a->claim("host-a", 1)).size() == 1);
        backend.pass(500);
        REQUIRE(get(a->reclaim("host-b", 10)).size() == 1);  // a lapsed claim is not waiting
        CHECK(get(a->waiting()) == 1);
        REQUIRE(get(a->claim("host-b", 10)).size() == 1);
        CHECK(get(a->waiting()) == 0);
    }

    SECTION("cancel requests are seen by every host") {
        auto a = backend.open(30000);
        auto b = backend.open(30000);
        ok(a->requestCancel("j2"));
        ok(a->requestCancel("j3"));
        ok(a->requestCancel("j3"));  // again: still one request
        CHECK(get(b->cancelRequested({"j1", "j2", "j3", "j4"})) == Strings{"j2", "j3"});
        CHECK(get(b->cancelRequested({"j4"})).empty());
        CHECK(get(b->cancelRequested({})).empty());
    }

    SECTION("events are read after an id, in order, at most max") {
        auto a = backend.open(30000);
        auto b = backend.open(30000);
        Strings ids;
        for (int i = 1; i <= 5; ++i) {
            ids.push_back(
                get(a->announce("j" + std::to_string(i), "{\"state\":" + std::to_string(i) + "}")));
        }
        auto all = get(b->events("", 100));
        REQUIRE(all.size() == 5);
        for (std::size_t i = 0; i < 5; ++i) {
            CHECK(all[i].eventId == ids[i]);
            CHECK(all[i].jobId == "j" + std::to_string(i + 1));
            CHECK(all[i].payload == "{\"state\":" + std::to_string(i + 1) + "}");
        }
        auto page = get(b->events(ids[1], 2));
        REQUIRE(page.size() == 2);
        CHECK(page[0].eventId == ids[2]);
        CHECK(page[1].eventId == ids[3]);
        CHECK(get(b->events(ids[4], 10)).empty());
        CHECK(get(b->events("", 0)).empty());
        auto bad = b->events("not-an-id", 10);
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().code == ErrorCode::InvalidArgument);
    }

    SECTION("entries survive a restart of the back end") {
        auto a = backend.open(30000);
        get(a->publish("j1", "p1"));
        get(a->publish("j2", "p2"));
        get(a->nextJobSeq());
        REQUIRE(get(a->claim("host-a", 1)).size() == 1);
        backend.restart();
        // The old object reconnects by itself (Redis: one reconnect per call).
        auto next = get(a->claim("host-a", 10));
        CHECK(jobIdsOf(next) == Strings{"j2"});
        auto fresh = backend.open(30000);
        CHECK(jobIdsOf(get(fresh->held("host-a"))) == Strings{"j1", "j2"});
        CHECK(get(fresh->nextJobSeq()) == 2);
        CHECK(get(fresh->waiting()) == 0);
    }
}

TEST_CASE("RedisJobQueue refuses bad URLs and reports unreachable servers", "[queue]") {
    for (const std::string url :
         {"", "http://localhost:6379", "redis://localhost", "redis://localhost:0",
          "redis://localhost:99999", "unix://relative.sock", "redis://:secret@localhost:6379"}) {
        auto queue = RedisJobQueue::connect(url, "fetchml", 1000);
        REQUIRE_FALSE(queue.ok());
        CHECK(queue.error().code == ErrorCode::InvalidArgument);
        CHECK_THAT(queue.error().message, Catch::Contains("queue.redis_url"));
        CHECK_THAT(queue.error().message, !Catch::Contains("secret"));
    }
    auto v6 = RedisJobQueue::parseUrl("redis://[::1]:6380");
    REQUIRE(v6.ok());
    CHECK(v6->host == "::1");
    CHECK(v6->port == 6380);

    TempDir tmp;
    const std::string missing = "unix://" + tmp.sub("none.sock");
    auto queue = RedisJobQueue::connect(missing, "fetchml", 1000);
    REQUIRE_FALSE(queue.ok());
    CHECK(queue.error().code == ErrorCode::Internal);
    CHECK_THAT(queue.error().message, Catch::Contains(missing));

    CHECK(RedisJobQueue::connect("unix:///run/x.sock", "", 1000).error().code ==
          ErrorCode::InvalidArgument);
    CHECK(SqliteJobQueue::open(tmp.sub("q.db"), 0).error().code == ErrorCode::InvalidArgument);
}
