// Authorization, for real: fetchmld and fetchml-httpsd on a private bus. Every role (admin,
// researcher, viewer; docs/security.md) is walked against every D-Bus method and every HTTPS
// route, and the test asserts allow or deny for each: "allowed" means the call got past the
// permission check (it may still fail on its arguments), "denied" means PermissionDenied / 403.
// Also: key roles cannot exceed their creator's, expired and revoked keys fail like wrong ones,
// local callers without polkit get auth.local_role, audit events carry the fields, and no log
// holds any key's secret. Datasets: a researcher writes its own (a new dataset is its
// creator's), not another user's; a viewer only reads them.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;

namespace {

constexpr const char* kDenied = "org.fetchml.Error.PermissionDenied";
/// The dataset res2 owns (World).
const std::string kShared = "shared";

/// "" when the call succeeds, else the D-Bus error name.
std::string outcome(const std::function<void()>& call) {
    try {
        call();
    } catch (const sdbus::Error& e) {
        return e.getName();
    }
    return "";
}

VariantMap with(const std::string& key, VariantMap fields = {}) {
    fields["api_key"] = sdbus::Variant(key);
    return fields;
}

VariantMap s(const std::string& name, const std::string& value) {
    return {{name, sdbus::Variant(value)}};
}

/// The world the matrix runs in: users, keys, a commit and one queued job per researcher.
struct World {
    explicit World(Stack& stack) : stack(stack) {
        for (auto [name, role] : {std::pair{"adm", "admin"}, std::pair{"res", "researcher"},
                                  std::pair{"res2", "researcher"}, std::pair{"view", "viewer"}}) {
            auto added = stack.client->AddUser({{"name", sdbus::Variant(std::string(name))},
                                                {"role", sdbus::Variant(std::string(role))}});
            keys[name] = added.at("api_key").get<std::string>();
            secrets.push_back(keys[name]);
            rememberKeys(keys[name]);
        }
        commit = upload();
        for (const char* user : {"res", "res2"}) {
            auto job = stack.client->SubmitJob(
                with(keys[user], {{"commit", sdbus::Variant(commit)},
                                  {"command", sdbus::Variant(std::vector<std::string>{"true"})}}));
            jobs[user] = job.at("id").get<std::string>();
        }
        // A dataset of res2's, for the rows that write another user's dataset.
        stack.client->AddDatasetVersion(with(
            keys["res2"], {{"name", sdbus::Variant(kShared)}, {"tree", sdbus::Variant(commit)}}));
    }

    std::string upload() {
        std::string dir = stack.tmp.sub("exp");
        mkdir(dir.c_str(), 0755);
        writeFile(dir + "/run.sh", "echo hi\n");
        auto manifest = fetchml::Manifest::scan(dir);
        REQUIRE(manifest.ok());
        blob = manifest->entries().front().sha256;
        packPath = stack.tmp.sub("pack");
        fetchml::PackWriter writer({{blob, dir + "/run.sh"}});
        int fd = ::open(packPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(writer.writeTo(fd).ok());
        ::close(fd);
        stack.client->PutBlobs(
            {}, sdbus::UnixFd(::open(packPath.c_str(), O_RDONLY | O_CLOEXEC), sdbus::adopt_fd));
        manifestText = manifest->text();
        return stack.client->PutManifest(s("manifest", manifestText))
            .at("commit")
            .get<std::string>();
    }

    /// {"name": name, "tree": the commit}, for AddDatasetVersion.
    VariantMap dataset(const std::string& name) const {
        return {{"name", sdbus::Variant(name)}, {"tree", sdbus::Variant(commit)}};
    }

    /// A fresh key of `user` (made by root), for revocation rows.
    std::string spareKeyId(const std::string& user) {
        auto key = stack.client->CreateKey(s("user", user));
        secrets.push_back(key.at("api_key").get<std::string>());
        rememberKeys(secrets.back());
        return key.at("key_id").get<std::string>();
    }

    Stack& stack;
    std::map<std::string, std::string> keys;  // user -> API key
    std::map<std::string, std::string> jobs;  // researcher -> its queued job
    std::vector<std::string> secrets;
    std::string commit, blob, packPath, manifestText;
};

/// One row of the D-Bus matrix: a name and the call made with the role's key.
struct Row {
    std::string name;
    std::function<void(const std::string& key)> call;
};

std::vector<Row> busRows(World& w, const std::string& self) {
    BusClient& c = *w.stack.client;
    static int counter = 0;
    return {
        {"Hello", [&](auto k) { c.Hello(with(k)); }},
        {"AddUser",
         [&](auto k) {
             c.AddUser(with(k, {{"name", sdbus::Variant("u" + std::to_string(++counter))},
                                {"role", sdbus::Variant(std::string("viewer"))}}));
         }},
        {"CreateKey self", [&](auto k) { c.CreateKey(with(k)); }},
        {"CreateKey other", [&](auto k) { c.CreateKey(with(k, s("user", "res2"))); }},
        {"ListKeys self", [&](auto k) { c.ListKeys(with(k)); }},
        {"ListKeys other", [&](auto k) { c.ListKeys(with(k, s("user", "res2"))); }},
        {"RevokeKey own",
         [&, self](auto k) { c.RevokeKey(with(k, s("key_id", w.spareKeyId(self)))); }},
        {"RevokeKey other",
         [&](auto k) { c.RevokeKey(with(k, s("key_id", w.spareKeyId("res2")))); }},
        {"MissingBlobs",
         [&](auto k) {
             c.MissingBlobs(
                 with(k, {{"hashes", sdbus::Variant(std::vector<std::string>{w.blob})}}));
         }},
        {"PutBlobs",
         [&](auto k) {
             c.PutBlobs(with(k), sdbus::UnixFd(::open(w.packPath.c_str(), O_RDONLY | O_CLOEXEC),
                                               sdbus::adopt_fd));
         }},
        {"PutManifest", [&](auto k) { c.PutManifest(with(k, s("manifest", w.manifestText))); }},
        {"MissingChunks",
         [&](auto k) {
             c.MissingChunks(
                 with(k, {{"hashes", sdbus::Variant(std::vector<std::string>{w.blob})}}));
         }},
        {"PutChunkedFile",
         [&](auto k) {
             c.PutChunkedFile(with(k, {{"hash", sdbus::Variant(w.blob)},
                                       {"size", sdbus::Variant(std::uint64_t{1})},
                                       {"chunks", sdbus::Variant(w.blob + " 1\n")}}));
         }},
        {"GetManifest", [&](auto k) { c.GetManifest(with(k, s("commit", w.commit))); }},
        {"OpenBlob", [&](auto k) { c.OpenBlob(with(k, s("hash", w.blob))); }},
        {"SubmitJob",
         [&](auto k) {
             c.SubmitJob(with(k, {{"commit", sdbus::Variant(w.commit)},
                                  {"command", sdbus::Variant(std::vector<std::string>{"true"})}}));
         }},
        {"GetJob of res", [&](auto k) { c.GetJob(with(k, s("id", w.jobs["res"]))); }},
        {"GetJob of res2", [&](auto k) { c.GetJob(with(k, s("id", w.jobs["res2"]))); }},
        {"ListJobs", [&](auto k) { c.ListJobs(with(k)); }},
        {"ReadLog of res", [&](auto k) { c.ReadLog(with(k, s("id", w.jobs["res"]))); }},
        {"ReadLog of res2", [&](auto k) { c.ReadLog(with(k, s("id", w.jobs["res2"]))); }},
        {"SubmitSweep",
         [&](auto k) {
             std::vector<VariantMap> axes{
                 {{"name", sdbus::Variant(std::string("lr"))},
                  {"values", sdbus::Variant(std::vector<std::string>{"1", "2"})}}};
             c.SubmitSweep(with(k, {{"commit", sdbus::Variant(w.commit)},
                                    {"command", sdbus::Variant(std::vector<std::string>{"true"})},
                                    {"sweep", sdbus::Variant(axes)}}));
         }},
        {"PruneJobs dry run",
         [&](auto k) {
             c.PruneJobs(with(k, {{"dry_run", sdbus::Variant(true)}}));
         }},
        {"AddPin", [&](auto k) { c.AddPin(with(k, s("target", w.commit))); }},
        {"ListPins", [&](auto k) { c.ListPins(with(k)); }},
        {"RemovePin", [&](auto k) { c.RemovePin(with(k, s("target", w.commit))); }},
        // A dataset of the caller's own (new, so its creator owns it), then res2's.
        {"AddDatasetVersion new",
         [&, self](auto k) { c.AddDatasetVersion(with(k, w.dataset("d-" + self))); }},
        {"ListDatasets", [&](auto k) { c.ListDatasets(with(k)); }},
        {"GetDataset", [&](auto k) { c.GetDataset(with(k, s("ref", kShared))); }},
        {"GetDataset version", [&](auto k) { c.GetDataset(with(k, s("ref", kShared + "@1"))); }},
        {"RemoveDataset own",
         [&, self](auto k) { c.RemoveDataset(with(k, s("ref", "d-" + self))); }},
        {"AddDatasetVersion other",
         [&](auto k) { c.AddDatasetVersion(with(k, w.dataset(kShared))); }},
        {"RemoveDataset other",
         [&](auto k) { c.RemoveDataset(with(k, s("ref", kShared + "@1"))); }},
        // Last: cancelling changes the jobs the rows above read.
        {"CancelJob of res2", [&](auto k) { c.CancelJob(with(k, s("id", w.jobs["res2"]))); }},
        {"CancelJob of res", [&](auto k) { c.CancelJob(with(k, s("id", w.jobs["res"]))); }},
    };
}

// What each role may not do (every other row is allowed).
const std::map<std::string, std::set<std::string>> kBusDenied = {
    {"adm", {}},
    {"res",
     {"AddUser", "CreateKey other", "ListKeys other", "RevokeKey other", "GetJob of res2",
      "ReadLog of res2", "CancelJob of res2", "PruneJobs dry run", "AddPin", "RemovePin",
      "AddDatasetVersion other", "RemoveDataset other"}},
    {"view",
     {"AddUser",
      "CreateKey self",
      "CreateKey other",
      "ListKeys self",
      "ListKeys other",
      "RevokeKey own",
      "RevokeKey other",
      "MissingBlobs",
      "PutBlobs",
      "PutManifest",
      "SubmitJob",
      "MissingChunks",
      "PutChunkedFile",
      "SubmitSweep",
      "PruneJobs dry run",
      "AddPin",
      "RemovePin",
      "AddDatasetVersion new",
      "RemoveDataset own",
      "AddDatasetVersion other",
      "RemoveDataset other",
      "CancelJob of res2",
      "CancelJob of res"}},
};

}  // namespace

TEST_CASE("every role against every D-Bus method", "[auth][roles]") {
    Stack stack(true, "  rate_limit_per_minute: 100000\n");
    World w(stack);
    for (const std::string& role : {std::string("view"), std::string("res"), std::string("adm")}) {
        for (const auto& row : busRows(w, role)) {
            std::string got = outcome([&] { row.call(w.keys[role]); });
            bool denied = kBusDenied.at(role).count(row.name) != 0;
            INFO(role << " " << row.name << " -> " << got);
            CHECK(got != "org.fetchml.Error.Unauthenticated");
            CHECK((got == kDenied) == denied);
        }
    }
    // A key nobody issued is refused by every method before anything else.
    std::string bogus = "fml_0123456789ab_" + std::string(43, 'A');
    for (const auto& row : busRows(w, "res")) {
        INFO(row.name);
        CHECK(outcome([&] { row.call(bogus); }) == "org.fetchml.Error.Unauthenticated");
    }
}

TEST_CASE("own versus any: listing and reading", "[auth][roles]") {
    Stack stack(true, "  rate_limit_per_minute: 100000\n");
    World w(stack);
    auto ids = [&](const std::string& user) {
        std::set<std::string> out;
        for (const auto& job : stack.client->ListJobs(with(w.keys[user]))) {
            out.insert(job.at("id").get<std::string>());
        }
        return out;
    };
    CHECK(ids("res") == std::set<std::string>{w.jobs["res"]});
    CHECK(ids("res2") == std::set<std::string>{w.jobs["res2"]});
    CHECK(ids("view") == std::set<std::string>{w.jobs["res"], w.jobs["res2"]});
    CHECK(ids("adm") == std::set<std::string>{w.jobs["res"], w.jobs["res2"]});

    // A permitted call that fails on its arguments is audited as failed.
    stack.client->CancelJob(with(w.keys["res"], s("id", w.jobs["res"])));
    CHECK(outcome([&] { stack.client->CancelJob(with(w.keys["res"], s("id", w.jobs["res"]))); }) ==
          "org.fetchml.Error.InvalidArgument");
    std::string log = readFile(stack.schedulerLog());
    CHECK(log.find("action=job.cancel result=ok user=res") != std::string::npos);
    CHECK(log.find("action=job.cancel result=failed user=res") != std::string::npos);
    CHECK(log.find("res: job.cancel failed: id: job " + w.jobs["res"] +
                   " has already ended (cancelled)") != std::string::npos);

    // Keys: a researcher lists only its own and never sees a secret or hash.
    auto mine = stack.client->ListKeys(with(w.keys["res"]));
    REQUIRE(mine.size() == 1);
    CHECK(mine[0].at("user").get<std::string>() == "res");
    CHECK(mine[0].count("api_key") == 0);
    CHECK(mine[0].count("hash") == 0);
}

TEST_CASE("keys: role ceilings, expiry and revocation", "[auth][roles]") {
    Stack stack(true, "  rate_limit_per_minute: 100000\n");
    World w(stack);
    BusClient& c = *stack.client;
    // A researcher cannot mint a key with more (or other) permissions than its own.
    CHECK(outcome([&] { c.CreateKey(with(w.keys["res"], s("role", "admin"))); }) == kDenied);
    CHECK(outcome([&] { c.CreateKey(with(w.keys["res"], s("role", "viewer"))); }) == kDenied);
    auto own = c.CreateKey(with(w.keys["res"], s("role", "researcher")));
    CHECK(own.at("role").get<std::string>() == "researcher");
    w.secrets.push_back(own.at("api_key").get<std::string>());
    // An admin can give anyone a narrower key: res with a viewer key reads every job.
    auto narrow = c.CreateKey({{"user", sdbus::Variant(std::string("res"))},
                               {"role", sdbus::Variant(std::string("viewer"))}});
    std::string viewerKey = narrow.at("api_key").get<std::string>();
    w.secrets.push_back(viewerKey);
    CHECK(c.ListJobs(with(viewerKey)).size() == 2);
    CHECK(outcome([&] { c.CancelJob(with(viewerKey, s("id", w.jobs["res"]))); }) == kDenied);

    // Revoked: refused at once, with the same answer as a wrong key.
    c.RevokeKey(with(w.keys["res"], s("key_id", own.at("key_id").get<std::string>())));
    CHECK(outcome([&] { c.Hello(with(own.at("api_key").get<std::string>())); }) ==
          "org.fetchml.Error.Unauthenticated");

    // Expiring: works, then fails once its time has passed.
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto brief = c.CreateKey({{"user", sdbus::Variant(std::string("res"))},
                              {"expires_at", sdbus::Variant(std::int64_t{now + 1500})}});
    std::string briefKey = brief.at("api_key").get<std::string>();
    w.secrets.push_back(briefKey);
    CHECK(outcome([&] { c.Hello(with(briefKey)); }).empty());
    CHECK(
        waitUntil([&] { return !outcome([&] { c.Hello(with(briefKey)); }).empty(); }, 30000, 200));
    CHECK(outcome([&] { c.Hello(with(briefKey)); }) == "org.fetchml.Error.Unauthenticated");

    // The audit log names why, the client is told nothing more than "invalid API key".
    std::string log = readFile(stack.schedulerLog());
    CHECK(log.find("authentication failed: key " + own.at("key_id").get<std::string>() +
                   " revoked") != std::string::npos);
    CHECK(log.find("authentication failed: key " + brief.at("key_id").get<std::string>() +
                   " expired") != std::string::npos);
    for (const auto& secret : w.secrets) {
        CHECK(log.find(secret.substr(17)) == std::string::npos);
    }
}

TEST_CASE("every role against every HTTPS route", "[auth][roles][https]") {
    Stack stack(true, "  rate_limit_per_minute: 100000\n  auth_failures_per_minute: 100000\n");
    World w(stack);
    struct Route {
        std::string name, method, path, body, file;
    };
    auto routes = [&](const std::string& self) {
        std::string jr = "/v1/jobs/" + w.jobs["res"], jr2 = "/v1/jobs/" + w.jobs["res2"];
        return std::vector<Route>{
            {"whoami", "GET", "/v1/whoami", "", ""},
            {"users", "POST", "/v1/users", R"({"name":"h)" + self + R"(","role":"viewer"})", ""},
            {"keys self", "POST", "/v1/keys", "{}", ""},
            {"keys other", "POST", "/v1/keys", R"({"user":"res2"})", ""},
            {"keys list", "GET", "/v1/keys", "", ""},
            {"keys list other", "GET", "/v1/keys?user=res2", "", ""},
            {"revoke own", "DELETE", "/v1/keys/" + w.spareKeyId(self), "", ""},
            {"revoke other", "DELETE", "/v1/keys/" + w.spareKeyId("res2"), "", ""},
            {"blobs missing", "POST", "/v1/blobs/missing", R"({"hashes":[")" + w.blob + "\"]}", ""},
            {"blobs put", "POST", "/v1/blobs", "", w.packPath},
            {"commit put", "POST", "/v1/commits",
             nlohmann::json{{"manifest", w.manifestText}}.dump(), ""},
            {"commit get", "GET", "/v1/commits/" + w.commit, "", ""},
            {"blob get", "GET", "/v1/blobs/" + w.blob, "", ""},
            {"submit", "POST", "/v1/jobs", R"({"commit":")" + w.commit + R"(","command":["true"]})",
             ""},
            {"list", "GET", "/v1/jobs", "", ""},
            {"get res", "GET", jr, "", ""},
            {"get res2", "GET", jr2, "", ""},
            {"logs res", "GET", jr + "/logs", "", ""},
            {"logs res2", "GET", jr2 + "/logs", "", ""},
            {"results res", "GET", jr + "/results", "", ""},
            {"results res2", "GET", jr2 + "/results", "", ""},
            {"sweep", "POST", "/v1/sweeps",
             R"({"commit":")" + w.commit +
                 R"(","command":["true"],"sweep":[{"name":"lr","values":["1","2"]}]})",
             ""},
            {"prune dry run", "POST", "/v1/jobs/prune", R"({"dry_run":true})", ""},
            {"pin add", "POST", "/v1/pins", R"({"target":")" + w.commit + "\"}", ""},
            {"pin list", "GET", "/v1/pins", "", ""},
            {"pin rm", "DELETE", "/v1/pins/" + w.commit, "", ""},
            {"data add", "POST", "/v1/datasets",
             R"({"name":"h-)" + self + R"(","tree":")" + w.commit + "\"}", ""},
            {"data list", "GET", "/v1/datasets", "", ""},
            {"data get", "GET", "/v1/datasets/" + kShared, "", ""},
            {"data get version", "GET", "/v1/datasets/" + kShared + "@1", "", ""},
            {"data rm own", "DELETE", "/v1/datasets/h-" + self, "", ""},
            {"data add other", "POST", "/v1/datasets",
             R"({"name":")" + kShared + R"(","tree":")" + w.commit + "\"}", ""},
            {"data rm other", "DELETE", "/v1/datasets/" + kShared + "%401", "", ""},
            {"cancel res2", "POST", jr2 + "/cancel", "", ""},
            {"cancel res", "POST", jr + "/cancel", "", ""},
        };
    };
    const std::map<std::string, std::set<std::string>> denied = {
        {"adm", {}},
        {"res",
         {"users", "keys other", "keys list other", "revoke other", "get res2", "logs res2",
          "results res2", "prune dry run", "pin add", "pin rm", "data add other", "data rm other",
          "cancel res2"}},
        {"view",
         {"users",      "keys self",    "keys other",     "keys list",     "keys list other",
          "revoke own", "revoke other", "blobs missing",  "blobs put",     "commit put",
          "submit",     "sweep",        "prune dry run",  "pin add",       "pin rm",
          "data add",   "data rm own",  "data add other", "data rm other", "cancel res2",
          "cancel res"}},
    };
    for (const std::string& role : {std::string("view"), std::string("res"), std::string("adm")}) {
        for (const auto& r : routes(role)) {
            auto answer = stack.request(r.method, r.path, w.keys[role], r.body, r.file);
            INFO(role << " " << r.name << " -> " << answer.status << " " << answer.body);
            CHECK(answer.status != 401);
            CHECK((answer.status == 403) == (denied.at(role).count(r.name) != 0));
        }
    }
    // Without a key every route but /health is 401; with a wrong one too.
    for (const auto& r : routes("res")) {
        INFO(r.name);
        CHECK(stack.request(r.method, r.path, "", r.body, r.file).status == 401);
        CHECK(stack
                  .request(r.method, r.path, "fml_0123456789ab_" + std::string(43, 'B'), r.body,
                           r.file)
                  .status == 401);
    }

    // fetchmld's audit events carry the client's address and the job.
    std::string log = readFile(stack.schedulerLog());
    CHECK(log.find("action=job.submit result=ok user=res remote_addr=127.0.0.1") !=
          std::string::npos);
    CHECK(log.find("action=job.cancel result=denied user=res remote_addr=127.0.0.1 job_id=" +
                   w.jobs["res2"]) != std::string::npos);
    for (const std::string& path : {stack.schedulerLog(), stack.edgeLog()}) {
        std::string text = readFile(path);
        for (const auto& secret : w.secrets) {
            INFO(path);
            CHECK(text.find(secret.substr(17)) == std::string::npos);
        }
    }
}

TEST_CASE("local callers without polkit get auth.local_role", "[auth][local]") {
    auto users = ensureServiceUsers();
    if (!users.root) {
        WARN("not root: cannot call as another local user");
        return;
    }
    Stack stack(true, "", "auth:\n  local_role: viewer\n");
    std::vector<std::string> env = {
        stack.busEnv(), "FETCHML_SERVER=", "FETCHML_API_KEY=", "XDG_CONFIG_HOME=/nonexistent"};
    // The https service user stands in for any local user: not root, not fetchmld's user.
    auto who =
        run({binaryPath("fetchmlctl"), "whoami", "--json"}, env, users.https, users.httpsGid);
    INFO(who.err);
    REQUIRE(who.exitCode == 0);
    auto me = nlohmann::json::parse(who.out);
    CHECK(me["user"] == "fetchml-https");
    CHECK(me["role"] == "local");  // polkit is asked first; it is not on this bus
    auto add = run({binaryPath("fetchmlctl"), "user", "add", "x", "--role", "viewer"}, env,
                   users.https, users.httpsGid);
    CHECK(add.exitCode == 3);
    CHECK(add.err.find("lacks permission users.manage") != std::string::npos);
    auto list =
        run({binaryPath("fetchmlctl"), "status", "--json"}, env, users.https, users.httpsGid);
    CHECK(list.exitCode == 0);  // viewer: jobs.read.any
    // Root is an admin.
    auto rootAdd = run({binaryPath("fetchmlctl"), "user", "add", "x", "--role", "viewer"}, env);
    INFO(rootAdd.err);
    CHECK(rootAdd.exitCode == 0);
}

TEST_CASE("the suite's secret scan finds a key in a log", "[auth][secrets]") {
    // Not a TempDir: its destructor would (rightly) report this planted leak.
    std::string dir = "/tmp/fetchml-leak-XXXXXX";
    REQUIRE(::mkdtemp(dir.data()) != nullptr);
    std::string key = "fml_00112233aabb_" + std::string(43, 'Q');
    rememberKeys("created " + key);
    writeFile(dir + "/daemon.log", "all fine\n");
    CHECK(leakedSecrets(dir).empty());
    writeFile(dir + "/daemon.log", "header Authorization: Bearer " + key + "\n");
    auto whole = leakedSecrets(dir);
    REQUIRE(whole.size() == 2);  // a key, and this key's secret
    CHECK(whole[0].find("key id 00112233aabb") != std::string::npos);
    writeFile(dir + "/daemon.log", "secret " + key.substr(17) + "\n");
    CHECK(leakedSecrets(dir).size() == 1);
    for (const auto& leak : leakedSecrets(dir)) {
        CHECK(leak.find(key.substr(17)) == std::string::npos);  // the report never repeats it
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("a role's own HTTPS rate limit from permissions.yaml", "[auth][https][ratelimit]") {
    TempDir conf;
    writeFile(conf.sub("permissions.yaml"),
              "roles:\n  admin: ['*']\n  researcher: [jobs.read.own]\n  bot:\n"
              "    permissions: [jobs.read.own]\n"
              "    rate_limit_per_minute: 3\n");
    Stack stack(true, "  rate_limit_per_minute: 100000\n",
                "auth:\n  permissions_file: " + conf.sub("permissions.yaml") + "\n");
    auto bot = stack.client->AddUser({{"name", sdbus::Variant(std::string("bot"))},
                                      {"role", sdbus::Variant(std::string("bot"))}});
    std::string key = bot.at("api_key").get<std::string>();
    rememberKeys(key);
    auto whoami = stack.request("GET", "/v1/whoami", key).json();
    CHECK(whoami["role"] == "bot");
    CHECK(whoami["rate_limit_per_minute"] == 3);
    // The first request learnt the limit: three more fit, the next is refused.
    for (int i = 0; i < 3; ++i) {
        CHECK(stack.request("GET", "/v1/jobs", key).status == 200);
    }
    auto refused = stack.request("GET", "/v1/jobs", key);
    CHECK(refused.status == 429);
    // Another user's key is not affected.
    CHECK(stack
              .request("GET", "/v1/jobs",
                       stack.client
                           ->AddUser({{"name", sdbus::Variant(std::string("adm"))},
                                      {"role", sdbus::Variant(std::string("admin"))}})
                           .at("api_key")
                           .get<std::string>())
              .status == 200);
}
