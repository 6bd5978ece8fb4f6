// Sweeps and prune end to end, without a worker: fetchmld and fetchml-httpsd on a private
// D-Bus system bus with FetchML's own policy. A sweep is one SubmitSweep call (fetchmlctl over
// D-Bus and over HTTPS), listed and cancelled as a group; prune is admin-only, removes only
// finished jobs with their run directories, and honours --state, --keep-last and --dry-run.
// Its store collection keeps what the server told a client it need not send (deterministically
// here; stack_StoreGc races it).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using json = nlohmann::json;

namespace {

struct Fixture {
    Fixture() : stack(true) {
        mkdir(stack.tmp.sub("exp").c_str(), 0755);
        writeFile(stack.tmp.sub("exp/train.sh"), "echo \"lr=$FETCHML_PARAM_lr\"\n", 0755);
        mkdir(stack.tmp.sub("xdg").c_str(), 0755);
        auto alice = stack.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                            {"role", sdbus::Variant(std::string("researcher"))}});
        aliceKey = alice.at("api_key").get<std::string>();
        auto boss = stack.client->AddUser({{"name", sdbus::Variant(std::string("boss"))},
                                           {"role", sdbus::Variant(std::string("admin"))}});
        bossKey = boss.at("api_key").get<std::string>();
    }

    CommandResult local(std::vector<std::string> args) const {
        return stack.ctlLocal(std::move(args));
    }
    CommandResult remote(std::vector<std::string> args) const {
        return stack.ctlRemote(std::move(args), aliceKey);
    }
    std::string runDir(const std::string& id) const { return stack.tmp.sub("state/runs/" + id); }

    Stack stack;
    std::string aliceKey, bossKey;
};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        out.push_back(text.substr(start, end - start));
        start = end == std::string::npos ? text.size() : end + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("a sweep is one server-side group: submitted, listed and cancelled together",
          "[fetchmld][sweep]") {
    Fixture f;

    // Over D-Bus: four jobs from one call, ids on stdout, the sweep id on stderr.
    auto queued = f.local({"queue", f.stack.tmp.sub("exp"), "--priority", "2", "--retries", "1",
                           "--param", "lr=0.1,0.01", "--param", "bs=32,64", "--param", "seed=7",
                           "--", "sh", "train.sh"});
    INFO(queued.out << queued.err);
    REQUIRE(queued.exitCode == 0);
    auto ids = lines(queued.out);
    REQUIRE(ids.size() == 4);
    CHECK(queued.err.find("sweep s000001: 4 jobs queued") != std::string::npos);

    auto listed = f.local({"status", "--sweep", "s000001", "--json"});
    INFO(listed.err);
    REQUIRE(listed.exitCode == 0);
    auto jobs = json::parse(listed.out);
    REQUIRE(jobs.size() == 4);
    CHECK(jobs[3]["id"] == ids[0]);  // newest first
    CHECK(jobs[3]["params"] == json{{"bs", "32"}, {"lr", "0.1"}, {"seed", "7"}});
    CHECK(jobs[0]["params"] == json{{"bs", "64"}, {"lr", "0.01"}, {"seed", "7"}});
    for (const auto& job : jobs) {
        CHECK(job["sweep"] == "s000001");
        CHECK(job["state"] == "queued");
        CHECK(job["priority"] == 2);
        CHECK(job["max_retries"] == 1);
    }
    auto one = f.stack.client->GetJob({{"id", sdbus::Variant(ids[1])}});
    CHECK(one.at("sweep").get<std::string>() == "s000001");
    auto detail = f.local({"status", ids[1]});
    CHECK(detail.out.find("sweep:     s000001") != std::string::npos);

    // Over HTTPS, as alice: the same command, the sweep's answer as JSON.
    auto remote = f.remote(
        {"queue", f.stack.tmp.sub("exp"), "--json", "--param", "lr=1,2,3", "--", "sh", "train.sh"});
    INFO(remote.out << remote.err);
    REQUIRE(remote.exitCode == 0);
    auto answer = json::parse(remote.out);
    CHECK(answer["sweep"] == "s000002");
    CHECK(answer["state"] == "queued");
    REQUIRE(answer["jobs"].size() == 3);
    auto hers = f.remote({"status", "--sweep", "s000002", "--json"});
    REQUIRE(hers.exitCode == 0);
    CHECK(json::parse(hers.out).size() == 3);
    CHECK(f.stack.request("GET", "/v1/jobs?sweep=s000002&limit=2", f.aliceKey)
              .json()["jobs"]
              .size() == 2);
    CHECK(f.stack.request("GET", "/v1/jobs?sweep=s000099", f.aliceKey).status == 404);
    CHECK(f.stack.request("GET", "/v1/jobs?sweep=j000001", f.aliceKey).status == 400);

    // Too big a sweep is refused whole with the field named; nothing is stored.
    json big{{"commit", one.at("commit").get<std::string>()},
             {"command", {"sh", "train.sh"}},
             {"sweep", json::array()}};
    for (const char* name : {"a", "b", "c"}) {
        json values = json::array();
        for (int i = 0; i < 22; ++i) {
            values.push_back(std::to_string(i));
        }
        big["sweep"].push_back({{"name", name}, {"values", values}});
    }
    auto refused = f.stack.request("POST", "/v1/sweeps", f.aliceKey, big.dump());
    CHECK(refused.status == 400);
    CHECK(refused.json()["error"]["message"].get<std::string>().rfind("sweep:", 0) == 0);
    CHECK(f.local({"status", "--json", "--limit", "100"}).out.find("j000008") == std::string::npos);

    // alice may not cancel the admin's sweep; she cancels hers, over HTTPS.
    auto denied = f.remote({"cancel", "--sweep", "s000001"});
    CHECK(denied.exitCode == 3);
    auto cancelled = f.remote({"cancel", "--sweep", "s000002", "--json"});
    INFO(cancelled.out << cancelled.err);
    REQUIRE(cancelled.exitCode == 0);
    auto result = json::parse(cancelled.out);
    CHECK(result["cancelled"] == answer["jobs"]);
    CHECK(result["stopping"].empty());
    for (const auto& id : answer["jobs"]) {
        auto job = f.stack.client->GetJob({{"id", sdbus::Variant(id.get<std::string>())}});
        CHECK(job.at("state").get<std::string>() == "cancelled");
    }
    // The admin's sweep is untouched until it is cancelled on the bus.
    auto local = f.local({"cancel", "--sweep", "s000001"});
    REQUIRE(local.exitCode == 0);
    CHECK(lines(local.out).size() == 4);
    CHECK(local.out.find(ids[0] + " cancelled") != std::string::npos);
    // Again: every job has ended, nothing changes, and it says so.
    auto again = f.local({"cancel", "--sweep", "s000001"});
    CHECK(again.exitCode == 0);
    CHECK(again.out.empty());
    CHECK(again.err == "sweep s000001: no job left to cancel (every job has ended)\n");
    CHECK(f.local({"cancel"}).exitCode == 1);  // neither an id nor --sweep
}

TEST_CASE("a 1,000-job sweep is one call and is cancelled in one", "[fetchmld][sweep]") {
    Fixture f;
    auto queued = f.local({"queue", f.stack.tmp.sub("exp"), "--param", "a=0,1,2,3,4,5,6,7,8,9",
                           "--param", "b=0,1,2,3,4,5,6,7,8,9", "--param", "c=0,1,2,3,4,5,6,7,8,9",
                           "--", "sh", "train.sh"});
    INFO(queued.err);
    REQUIRE(queued.exitCode == 0);
    CHECK(lines(queued.out).size() == 1000);
    auto listed = f.stack.client->ListJobs(
        {{"sweep", sdbus::Variant(std::string("s000001"))}, {"limit", sdbus::Variant(10000u)}});
    CHECK(listed.size() == 1000);
    auto cancelled =
        f.stack.client->CancelSweep({{"sweep", sdbus::Variant(std::string("s000001"))}});
    CHECK(cancelled.at("cancelled").get<std::vector<std::string>>().size() == 1000);
    auto queuedNow = f.stack.client->ListJobs({{"state", sdbus::Variant(std::string("queued"))}});
    CHECK(queuedNow.empty());
}

TEST_CASE("prune is admin-only and removes only finished runs", "[fetchmld][prune]") {
    Fixture f;
    auto sweep =
        f.local({"queue", f.stack.tmp.sub("exp"), "--param", "lr=1,2,3,4", "--", "sh", "train.sh"});
    REQUIRE(sweep.exitCode == 0);
    auto ids = lines(sweep.out);
    REQUIRE(ids.size() == 4);
    auto waiting = f.local({"queue", f.stack.tmp.sub("exp"), "--", "sh", "train.sh"});
    REQUIRE(waiting.exitCode == 0);
    const std::string queuedId = lines(waiting.out).at(0);
    for (std::size_t i = 0; i < 3; ++i) {
        REQUIRE(f.local({"cancel", ids[i]}).exitCode == 0);
    }
    // Run directories as a run with a retry leaves them.
    std::filesystem::create_directories(f.runDir(ids[0]) + "/logs");
    writeFile(f.runDir(ids[0]) + "/logs/output.log", "hello\n");
    std::filesystem::create_directories(f.runDir(ids[0]) + ".stale");

    // A researcher may not prune, over HTTPS or on the bus with her key.
    CHECK(f.remote({"prune", "--state", "cancelled"}).exitCode == 3);
    CHECK(f.stack.request("POST", "/v1/jobs/prune", f.aliceKey, "{}").status == 403);
    CHECK(f.local({"prune"}).exitCode == 1);  // no selection at all is refused
    CHECK(f.local({"prune", "--older-than", "soon"}).exitCode == 1);

    auto dry =
        f.local({"prune", "--state", "cancelled", "--keep-last", "1", "--dry-run", "--json"});
    INFO(dry.out << dry.err);
    REQUIRE(dry.exitCode == 0);
    auto report = json::parse(dry.out);
    CHECK(report["dry_run"] == true);
    REQUIRE(report["pruned"].size() == 2);  // the last cancelled one is kept
    CHECK(std::filesystem::exists(f.runDir(ids[0])));

    // An admin's key over HTTPS: a dry run answers the same.
    auto viaEdge = f.stack.request(
        "POST", "/v1/jobs/prune", f.bossKey,
        json{{"states", {"cancelled"}}, {"keep_last", 1}, {"dry_run", true}}.dump());
    INFO(viaEdge.body);
    CHECK(viaEdge.status == 200);
    CHECK(viaEdge.json()["pruned"] == report["pruned"]);

    auto pruned =
        f.local({"prune", "--state", "cancelled", "--older-than", "1d", "--keep-last", "1"});
    INFO(pruned.out << pruned.err);
    REQUIRE(pruned.exitCode == 0);
    auto out = lines(pruned.out);
    REQUIRE(out.size() == 1);
    CHECK(out[0] == "pruned 0 jobs");  // none finished a day ago...
    // ...so without the age, both go.
    pruned = f.local({"prune", "--state", "cancelled", "--keep-last", "1"});
    REQUIRE(pruned.exitCode == 0);
    out = lines(pruned.out);
    REQUIRE(out.size() == 3);
    CHECK(out[0] == "pruned 2 jobs");
    CHECK_FALSE(std::filesystem::exists(f.runDir(ids[0])));
    CHECK_FALSE(std::filesystem::exists(f.runDir(ids[0]) + ".stale"));
    for (const auto& id : {ids[0], ids[1]}) {
        auto gone = f.local({"status", id});
        CHECK(gone.exitCode == 2);
    }
    // Queued jobs are never pruned, whatever the filter.
    pruned = f.local(
        {"prune", "--state", "succeeded", "--state", "failed", "--state", "cancelled", "--json"});
    REQUIRE(pruned.exitCode == 0);
    CHECK(json::parse(pruned.out)["pruned"] == json{ids[2]});
    CHECK(f.local({"status", ids[3]}).exitCode == 0);
    CHECK(f.local({"status", queuedId}).exitCode == 0);
    CHECK(f.local({"status", "--sweep", "s000001", "--json"}).exitCode == 0);
}

namespace {

/// Writes files (name -> content) into dir and uploads their blobs in one PutBlobs pack;
/// the answer.
VariantMap putBlobs(Stack& stack, const std::string& dir,
                    const std::map<std::string, std::string>& files) {
    mkdir(dir.c_str(), 0755);
    std::vector<fetchml::PackItem> items;
    for (const auto& [name, content] : files) {
        writeFile(dir + "/" + name, content);
        items.push_back({fetchml::Sha256::hashBuffer(content), dir + "/" + name});
    }
    const std::string pack = dir + ".pack";
    fetchml::PackWriter writer(items);
    int fd = ::open(pack.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(writer.writeTo(fd).ok());
    ::close(fd);
    return stack.client->PutBlobs(
        {}, sdbus::UnixFd(::open(pack.c_str(), O_RDONLY | O_CLOEXEC), sdbus::adopt_fd));
}

}  // namespace

TEST_CASE("blobs the server said it holds survive a prune until the client's manifest",
          "[fetchmld][prune][gc]") {
    Stack stack(true, "", "store:\n  gc_grace_s: 2\n");
    // Blobs uploaded before their tree is recorded, as by a sync whose PutManifest has not come
    // yet; older than the grace period when the prune comes.
    const std::string x = "told it need not send\n", y = "sent again\n", z = "forgotten\n";
    putBlobs(stack, stack.tmp.sub("tree"), {{"x.txt", x}, {"y.txt", y}});
    putBlobs(stack, stack.tmp.sub("other"), {{"z.txt", z}});
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto prune = [&](bool dry) {
        auto answer = stack.client->PruneJobs({{"dry_run", sdbus::Variant(dry)}});
        return answer.at("blobs_removed").get<std::uint64_t>();
    };
    CHECK(prune(true) == 3);

    // MissingBlobs tells the client it need not send x, and y comes again in a pack: both are
    // promised now, so the prune that comes before the client's PutManifest keeps them.
    const auto hash = [](const std::string& content) {
        return fetchml::Sha256::hashBuffer(content);
    };
    auto missing =
        stack.client->MissingBlobs({{"hashes", sdbus::Variant(std::vector<std::string>{hash(x)})}});
    CHECK(missing.at("missing").get<std::vector<std::string>>().empty());
    CHECK(
        putBlobs(stack, stack.tmp.sub("tree"), {{"y.txt", y}}).at("present").get<std::uint32_t>() ==
        1);
    CHECK(prune(false) == 1);  // z, which nothing promised
    auto manifest = fetchml::Manifest::scan(stack.tmp.sub("tree"));
    REQUIRE(manifest.ok());
    auto recorded = stack.client->PutManifest({{"manifest", sdbus::Variant(manifest->text())}});
    CHECK(recorded.at("commit").get<std::string>() == manifest->commitId());
    missing = stack.client->MissingBlobs(
        {{"hashes", sdbus::Variant(std::vector<std::string>{hash(x), hash(y), hash(z)})}});
    CHECK(missing.at("missing").get<std::vector<std::string>>() ==
          std::vector<std::string>{hash(z)});
}
