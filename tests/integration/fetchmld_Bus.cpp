// fetchmld on a real (private) D-Bus system bus with FetchML's own bus policy, no worker
// running: identity, users and keys, blob upload by file descriptor, manifests, job
// submission, listing and cancellation, and the error names of bad requests.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dbus/Scheduler1Proxy.h"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using VariantMap = std::map<std::string, sdbus::Variant>;

namespace {

// A generated proxy on its own connection to the private bus.
class SchedulerClient final : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit SchedulerClient(std::unique_ptr<sdbus::IConnection> connection)
        : ProxyInterfaces(std::move(connection), "org.fetchml.Scheduler1",
                          "/org/fetchml/Scheduler1") {
        registerProxy();
    }
    ~SchedulerClient() { unregisterProxy(); }

private:
    void onJobChanged(const std::string&, const std::string&, const VariantMap&) override {}
};

// The D-Bus error name a call fails with ("" when it succeeds).
template <typename F>
std::string errorNameOf(F&& call, std::string* message = nullptr) {
    try {
        call();
    } catch (const sdbus::Error& e) {
        if (message != nullptr) {
            *message = e.getMessage();
        }
        return e.getName();
    }
    return "";
}

struct Fixture {
    Fixture() : bus((mkdir(tmp.sub("bus").c_str(), 0755), tmp.sub("bus"))) {
        std::string state = tmp.sub("state");
        writeFile(tmp.sub("fetchml.yaml"),
                  "paths:\n  state_dir: " + state + "\n  runtime_dir: " + tmp.sub("run") +
                      "\nlog:\n  level: debug\n  target: console\nscheduler:\n"
                      "  reconnect_ms: 200\n  default_image: rootfs:busybox\n");
        SpawnOptions o;
        o.argv = {binaryPath("fetchmld"), "--config", tmp.sub("fetchml.yaml")};
        o.env = {bus.envEntry()};
        o.stderrPath = tmp.sub("fetchmld.log");
        daemon.emplace(Process::spawn(o));
        bool up = bus.waitForName("org.fetchml.Scheduler1", *daemon);
        INFO(readFile(tmp.sub("fetchmld.log")));
        REQUIRE(up);
        client = std::make_unique<SchedulerClient>(
            sdbus::createSessionBusConnectionWithAddress(bus.address()));
    }
    ~Fixture() {
        client.reset();
        if (daemon) {
            exitCode = daemon->stop();
        }
    }

    TempDir tmp;
    DbusDaemon bus;
    std::optional<Process> daemon;
    std::unique_ptr<SchedulerClient> client;
    int exitCode = -1;
};

// A small experiment tree uploaded as a pack: returns its commit id.
std::string uploadTree(Fixture& f) {
    std::string dir = f.tmp.sub("exp");
    mkdir(dir.c_str(), 0755);
    writeFile(dir + "/train.sh", "echo hello\n", 0755);
    writeFile(dir + "/README", "an experiment\n");
    auto manifest = fetchml::Manifest::scan(dir);
    REQUIRE(manifest.ok());
    std::vector<std::string> hashes = manifest->blobHashes();

    auto missing = f.client->MissingBlobs({{"hashes", sdbus::Variant(hashes)}});
    auto missingList = missing.at("missing").get<std::vector<std::string>>();
    CHECK(missingList.size() == hashes.size());

    std::vector<fetchml::PackItem> items;
    for (const auto& entry : manifest->entries()) {
        items.push_back({entry.sha256, dir + "/" + entry.path});
    }
    fetchml::PackWriter writer(items);
    std::string packPath = f.tmp.sub("pack");
    int fd = open(packPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(writer.writeTo(fd).ok());
    auto stats = f.client->PutBlobs({}, sdbus::UnixFd(fd, sdbus::adopt_fd));
    CHECK(stats.at("stored").get<std::uint32_t>() == hashes.size());
    CHECK(stats.at("present").get<std::uint32_t>() == 0);

    missing = f.client->MissingBlobs({{"hashes", sdbus::Variant(hashes)}});
    CHECK(missing.at("missing").get<std::vector<std::string>>().empty());

    auto put = f.client->PutManifest({{"manifest", sdbus::Variant(manifest->text())}});
    std::string commit = put.at("commit").get<std::string>();
    CHECK(commit == manifest->commitId());
    auto got = f.client->GetManifest({{"commit", sdbus::Variant(commit)}});
    CHECK(got.at("manifest").get<std::string>() == manifest->text());
    return commit;
}

VariantMap submitRequest(const std::string& commit) {
    return {{"commit", sdbus::Variant(commit)},
            {"command", sdbus::Variant(std::vector<std::string>{"sh", "train.sh"})},
            {"priority", sdbus::Variant(std::int32_t{5})},
            {"params", sdbus::Variant(std::map<std::string, std::string>{{"lr", "0.1"}})},
            {"name", sdbus::Variant(std::string("first"))}};
}

}  // namespace

TEST_CASE("fetchmld serves org.fetchml.Scheduler1 on the system bus", "[fetchmld]") {
    Fixture f;

    SECTION("identity, users, uploads and the job life cycle without a worker") {
        auto hello = f.client->Hello({});
        CHECK(hello.at("role").get<std::string>() == "admin");  // same uid as fetchmld
        CHECK(!hello.at("version").get<std::string>().empty());

        auto added = f.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                        {"role", sdbus::Variant(std::string("researcher"))}});
        std::string key = added.at("api_key").get<std::string>();
        CHECK(key.rfind("fml_", 0) == 0);
        auto asAlice = f.client->Hello({{"api_key", sdbus::Variant(key)}});
        CHECK(asAlice.at("user").get<std::string>() == "alice");
        CHECK(asAlice.at("role").get<std::string>() == "researcher");

        std::string commit = uploadTree(f);

        auto request = submitRequest(commit);
        request["api_key"] = sdbus::Variant(key);
        auto job = f.client->SubmitJob(request);
        std::string id = job.at("id").get<std::string>();
        CHECK(job.at("state").get<std::string>() == "queued");
        CHECK(job.at("user").get<std::string>() == "alice");
        CHECK(job.at("image").get<std::string>() == "rootfs:busybox");

        // No worker: it stays queued.
        auto again = f.client->GetJob({{"id", sdbus::Variant(id)}});
        CHECK(again.at("state").get<std::string>() == "queued");
        CHECK(again.at("priority").get<std::int32_t>() == 5);
        CHECK(again.at("params").get<std::map<std::string, std::string>>().at("lr") == "0.1");

        auto second = f.client->SubmitJob(submitRequest(commit));
        auto jobs = f.client->ListJobs({});
        REQUIRE(jobs.size() == 2);
        CHECK(jobs[0].at("id").get<std::string>() == second.at("id").get<std::string>());
        CHECK(jobs[1].at("id").get<std::string>() == id);

        auto log = f.client->ReadLog({{"id", sdbus::Variant(id)}});
        CHECK(log.at("data").get<std::vector<std::uint8_t>>().empty());
        CHECK_FALSE(log.at("eof").get<bool>());

        auto cancelled = f.client->CancelJob({{"id", sdbus::Variant(id)}});
        CHECK(cancelled.at("state").get<std::string>() == "cancelled");
        auto queued = f.client->ListJobs({{"state", sdbus::Variant(std::string("queued"))}});
        REQUIRE(queued.size() == 1);
        CHECK(queued[0].at("id").get<std::string>() == second.at("id").get<std::string>());
        log = f.client->ReadLog({{"id", sdbus::Variant(id)}});
        CHECK(log.at("eof").get<bool>());

        // A viewer may read but not submit; a researcher may not cancel another's job.
        auto viewer = f.client->AddUser({{"name", sdbus::Variant(std::string("vic"))},
                                         {"role", sdbus::Variant(std::string("viewer"))}});
        auto viewerRequest = submitRequest(commit);
        viewerRequest["api_key"] = viewer.at("api_key");
        CHECK(errorNameOf([&] { f.client->SubmitJob(viewerRequest); }) ==
              "org.fetchml.Error.PermissionDenied");
        CHECK(errorNameOf([&] {
                  f.client->CancelJob({{"id", second.at("id")}, {"api_key", sdbus::Variant(key)}});
              }) == "org.fetchml.Error.PermissionDenied");
        // Nor wait on it: its end would tell her how it went. Same answer as a missing job.
        auto waitOnOther = submitRequest(commit);
        waitOnOther["api_key"] = sdbus::Variant(key);
        waitOnOther["after_ok"] =
            sdbus::Variant(std::vector<std::string>{second.at("id").get<std::string>()});
        std::string why;
        CHECK(errorNameOf([&] { f.client->SubmitJob(waitOnOther); }, &why) ==
              "org.fetchml.Error.InvalidArgument");
        CHECK(why == "after_ok: job " + second.at("id").get<std::string>() + " does not exist");
        // A queued job says why it waits (no worker here).
        auto waiting = f.client->GetJob({{"id", second.at("id")}});
        CHECK(waiting.at("waiting").get<std::string>() ==
              "no worker connected (it is started on demand)");
        CHECK(errorNameOf([&] {
                  f.client->AddUser({{"name", sdbus::Variant(std::string("eve"))},
                                     {"api_key", sdbus::Variant(key)}});
              }) == "org.fetchml.Error.PermissionDenied");
    }

    SECTION("bad requests get named errors and fetchmld keeps answering") {
        std::string message;
        std::string bogus = "fml_0123456789ab_" + std::string(43, 'A');
        CHECK(errorNameOf(
                  [&] {
                      f.client->Hello({{"api_key", sdbus::Variant(bogus)}});
                  },
                  &message) == "org.fetchml.Error.Unauthenticated");
        CHECK(message.find(bogus) == std::string::npos);
        CHECK(errorNameOf([&] {
                  f.client->Hello({{"api_key", sdbus::Variant(std::string("nonsense"))}});
              }) == "org.fetchml.Error.Unauthenticated");

        std::string commit = uploadTree(f);
        auto noCommand = submitRequest(commit);
        noCommand.erase("command");
        CHECK(errorNameOf([&] { f.client->SubmitJob(noCommand); }, &message) ==
              "org.fetchml.Error.InvalidArgument");
        CHECK(message.find("command") != std::string::npos);

        auto unknownCommit = submitRequest(std::string(64, 'e'));
        // NotFound "commit: ...": what tells fetchmlctl queue to send the tree first.
        CHECK(errorNameOf([&] { f.client->SubmitJob(unknownCommit); }, &message) ==
              "org.fetchml.Error.NotFound");
        CHECK(message.rfind("commit: ", 0) == 0);

        auto badParam = submitRequest(commit);
        badParam["params"] = sdbus::Variant(std::map<std::string, std::string>{{"1x", "y"}});
        CHECK(errorNameOf([&] { f.client->SubmitJob(badParam); }, &message) ==
              "org.fetchml.Error.InvalidArgument");
        CHECK(message.find("params.1x") != std::string::npos);

        auto badPriority = submitRequest(commit);
        badPriority["priority"] = sdbus::Variant(std::int32_t{1000000});
        CHECK(errorNameOf([&] { f.client->SubmitJob(badPriority); }, &message) ==
              "org.fetchml.Error.InvalidArgument");
        CHECK(message.find("priority") != std::string::npos);

        CHECK(errorNameOf([&] {
                  f.client->GetJob({{"id", sdbus::Variant(std::string("j999"))}});
              }) == "org.fetchml.Error.NotFound");
        CHECK(errorNameOf([&] {
                  f.client->GetManifest({{"commit", sdbus::Variant(std::string(64, 'f'))}});
              }) == "org.fetchml.Error.NotFound");
        CHECK(errorNameOf([&] {
                  f.client->PutManifest(
                      {{"manifest", sdbus::Variant(std::string("fetchml-manifest 1\n100644 1 " +
                                                               std::string(64, 'a') + " x\n"))}});
              }) == "org.fetchml.Error.InvalidArgument");

        // A corrupt pack: the hash does not match the content.
        std::string packPath = f.tmp.sub("bad.pack");
        writeFile(packPath, std::string(64, 'a') + " 3\nabc");
        int fd = open(packPath.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        CHECK(errorNameOf([&] { f.client->PutBlobs({}, sdbus::UnixFd(fd, sdbus::adopt_fd)); }) ==
              "org.fetchml.Error.InvalidArgument");

        auto hello = f.client->Hello({});
        CHECK(hello.at("role").get<std::string>() == "admin");
        auto job = f.client->SubmitJob(submitRequest(commit));
        CHECK(job.at("state").get<std::string>() == "queued");
    }

    SECTION("the submission survives a restart of fetchmld") {
        std::string commit = uploadTree(f);
        auto job = f.client->SubmitJob(submitRequest(commit));
        f.client.reset();
        CHECK(f.daemon->stop() == 0);
        // Same state dir, same bus: the job is still there.
        SpawnOptions o;
        o.argv = {binaryPath("fetchmld"), "--config", f.tmp.sub("fetchml.yaml")};
        o.env = {f.bus.envEntry()};
        o.stderrPath = f.tmp.sub("fetchmld.log");
        f.daemon.emplace(Process::spawn(o));
        REQUIRE(f.bus.waitForName("org.fetchml.Scheduler1", *f.daemon));
        f.client = std::make_unique<SchedulerClient>(
            sdbus::createSessionBusConnectionWithAddress(f.bus.address()));
        auto again = f.client->GetJob({{"id", job.at("id")}});
        CHECK(again.at("state").get<std::string>() == "queued");
        CHECK(again.at("name").get<std::string>() == "first");
    }
}

// Group commit: submissions that arrive together are stored in one transaction and each
// caller is answered after it. Many clients at once must each get their own job back, every
// job must be stored as submitted, and a bad submission among them is refused on its own.
TEST_CASE("concurrent submissions each get their own job, and all are stored",
          "[fetchmld][batch]") {
    Fixture f;
    std::string commit = uploadTree(f);
    auto alice = f.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                    {"role", sdbus::Variant(std::string("researcher"))}});
    const std::string key = alice.at("api_key").get<std::string>();
    const std::string self = f.client->Hello({}).at("user").get<std::string>();

    constexpr int kClients = 8;
    constexpr int kPerClient = 40;
    struct Outcome {
        std::map<std::string, VariantMap> jobs;  // job id -> the answer
        std::vector<std::string> problems;
        int refused = 0;
    };
    std::vector<Outcome> outcomes(kClients);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            Outcome& out = outcomes[c];
            // Its own connection: calls from different clients arrive together.
            SchedulerClient client(sdbus::createSessionBusConnectionWithAddress(f.bus.address()));
            for (int i = 0; i < kPerClient; ++i) {
                const std::string tag = std::to_string(c) + "-" + std::to_string(i);
                auto request = submitRequest(commit);
                request["name"] = sdbus::Variant("job-" + tag);
                request["priority"] = sdbus::Variant(std::int32_t(i % 7));
                request["params"] =
                    sdbus::Variant(std::map<std::string, std::string>{{"tag", tag}});
                if (c % 2 == 1) {
                    request["api_key"] = sdbus::Variant(key);
                }
                if (i % 10 == 9) {
                    // Refused at once with the usual error; the others are not affected.
                    request["params"] =
                        sdbus::Variant(std::map<std::string, std::string>{{"1x", tag}});
                    std::string message;
                    auto name = errorNameOf([&] { client.SubmitJob(request); }, &message);
                    if (name == "org.fetchml.Error.InvalidArgument" &&
                        message.find("params.1x") != std::string::npos) {
                        ++out.refused;
                    } else {
                        out.problems.push_back(tag + ": " + name + " " + message);
                    }
                    continue;
                }
                try {
                    auto job = client.SubmitJob(request);
                    const std::string id = job.at("id").get<std::string>();
                    const std::string user = c % 2 == 1 ? "alice" : self;
                    if (job.at("name").get<std::string>() != "job-" + tag ||
                        job.at("params").get<std::map<std::string, std::string>>().at("tag") !=
                            tag ||
                        job.at("priority").get<std::int32_t>() != i % 7 ||
                        job.at("user").get<std::string>() != user ||
                        job.at("state").get<std::string>() != "queued") {
                        out.problems.push_back(tag + ": answered with another job's fields, " + id);
                    }
                    out.jobs.emplace(id, std::move(job));
                } catch (const sdbus::Error& e) {
                    out.problems.push_back(tag + ": " + e.getName() + " " + e.getMessage());
                }
            }
        });
    }
    for (auto& t : clients) {
        t.join();
    }

    std::map<std::string, VariantMap> all;
    int refused = 0;
    for (const auto& out : outcomes) {
        for (const auto& problem : out.problems) {
            FAIL_CHECK(problem);
        }
        refused += out.refused;
        for (const auto& [id, job] : out.jobs) {
            CHECK(all.emplace(id, job).second);  // no id answered twice
        }
    }
    constexpr int kValid = kClients * (kPerClient - kPerClient / 10);
    CHECK(refused == kClients * (kPerClient / 10));
    REQUIRE(all.size() == static_cast<std::size_t>(kValid));

    // Every answered job is stored as answered, and nothing else was stored.
    auto stored = f.client->ListJobs({{"limit", sdbus::Variant(std::uint64_t{10000})}});
    REQUIRE(stored.size() == all.size());
    for (const auto& job : stored) {
        auto it = all.find(job.at("id").get<std::string>());
        REQUIRE(it != all.end());
        CHECK(job.at("name").get<std::string>() == it->second.at("name").get<std::string>());
        CHECK(job.at("user").get<std::string>() == it->second.at("user").get<std::string>());
        CHECK(job.at("params").get<std::map<std::string, std::string>>() ==
              it->second.at("params").get<std::map<std::string, std::string>>());
        CHECK(job.at("state").get<std::string>() == "queued");
    }

    // fetchmld stops cleanly after all that.
    f.client.reset();
    CHECK(f.daemon->stop() == 0);
    f.daemon.reset();
}

TEST_CASE("fetchmld --check-config and --version", "[fetchmld]") {
    TempDir tmp;
    writeFile(tmp.sub("good.yaml"), "scheduler:\n  reconnect_ms: 100\n");
    writeFile(tmp.sub("bad.yaml"), "scheduler:\n  reconnect_ms: soon\n");
    auto good = run({binaryPath("fetchmld"), "--config", tmp.sub("good.yaml"), "--check-config"});
    CHECK(good.exitCode == 0);
    auto bad = run({binaryPath("fetchmld"), "--config", tmp.sub("bad.yaml"), "--check-config"});
    CHECK(bad.exitCode != 0);
    CHECK((bad.out + bad.err).find("reconnect_ms") != std::string::npos);
    auto version = run({binaryPath("fetchmld"), "--version"});
    CHECK(version.exitCode == 0);
    CHECK(version.out.find("fetchmld") != std::string::npos);
}
