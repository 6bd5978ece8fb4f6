// fetchml-httpsd's security edge against real attackers' traffic, on the real stack run as the
// service users (when the test runs as root): a private dbus-daemon with the project's policy,
// fetchmld as fetchml, fetchml-httpsd as fetchml-https, curl on loopback from two source
// addresses (127.0.0.2 attacks, 127.0.0.3 is a good client).
// - fail2ban: fail2ban-regex with configs/fail2ban/filter.d/fetchml.conf over the lines the
//   edge wrote finds exactly the failed logins, with the attacker's address, and none of the
//   good requests.
// - Least privilege: the running edge has a seccomp filter in every thread and
//   no-new-privileges while every route still works, and its user cannot open fetchmld's
//   database or store.

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dbus/Scheduler1Proxy.h"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;
using VariantMap = std::map<std::string, sdbus::Variant>;

namespace {

class BusClient final : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit BusClient(std::unique_ptr<sdbus::IConnection> connection)
        : ProxyInterfaces(std::move(connection), "org.fetchml.Scheduler1",
                          "/org/fetchml/Scheduler1") {
        registerProxy();
    }
    ~BusClient() { unregisterProxy(); }

private:
    void onJobChanged(const std::string&, const std::string&, const VariantMap&) override {}
};

/// A directory owned by uid:gid with mode (as root; otherwise just created).
void makeDir(const std::string& path, uid_t uid, gid_t gid, mode_t mode, bool root) {
    REQUIRE(::mkdir(path.c_str(), mode) == 0);
    if (root) {
        REQUIRE(::chown(path.c_str(), uid, gid) == 0);
    }
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// fetchmld and the edge as their service users on a private bus in a temp dir.
class Stack {
public:
    explicit Stack(const std::string& extraConfig)
        : users(ensureServiceUsers()),
          bus_((mkdir(tmp.sub("bus").c_str(), 0755), tmp.sub("bus")), users.root ? "fetchml" : "") {
        REQUIRE(::chmod((tmp.sub("bus") + "/bus").c_str(), 0666) == 0);
        makeDir(stateDir(), users.scheduler, users.group, 0750, users.root);
        makeDir(tmp.sub("sched-run"), users.scheduler, users.group, 0750, users.root);
        makeDir(tmp.sub("edge-state"), users.https, users.httpsGid, 0700, users.root);
        makeDir(tmp.sub("run"), users.https, users.httpsGid, 0755, users.root);
        makeDir(tmp.sub("spool"), users.https, users.httpsGid, 0700, users.root);
        startScheduler();
        startEdge(extraConfig);
    }
    ~Stack() {
        client.reset();
        if (edge_) {
            edge_->stop(SIGTERM);
        }
        scheduler_->stop();
    }

    std::string stateDir() const { return tmp.sub("state"); }
    std::string edgeLog() const { return tmp.sub("edge.log"); }
    std::string certFile() const { return tmp.sub("edge-state") + "/tls/cert.pem"; }
    std::string portFile() const { return tmp.sub("run") + "/https.port"; }
    pid_t edgePid() const { return edge_->pid(); }
    int stopEdge() {
        int code = edge_->stop(SIGTERM);
        edge_.reset();
        return code;
    }

    /// One request with curl from source address `from`, the server checked against the
    /// generated certificate; the key goes through curl's config on stdin, never argv.
    int request(const std::string& from, const std::string& method, const std::string& path,
                const std::string& authorization, const std::string& body = "",
                const std::string& bodyFile = "", std::string* answer = nullptr) {
        std::string out = tmp.sub("curl.out");
        std::vector<std::string> argv{"curl",     "-sS",          "--interface", from, "--cacert",
                                      certFile(), "-X",           method,        "-o", out,
                                      "-w",       "%{http_code}", "-K",          "-"};
        if (!body.empty()) {
            writeFile(tmp.sub("curl.body"), body, 0600);
            argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary",
                                     "@" + tmp.sub("curl.body")});
        }
        if (!bodyFile.empty()) {
            argv.insert(argv.end(), {"-H", "Content-Type: application/octet-stream",
                                     "--data-binary", "@" + bodyFile});
        }
        argv.push_back("https://127.0.0.1:" + std::to_string(port) + path);
        std::string config =
            authorization.empty() ? "" : "header = \"Authorization: " + authorization + "\"\n";
        auto result = run(argv, {}, std::nullopt, std::nullopt, config);
        if (result.exitCode != 0) {
            WARN("curl " << method << " " << path << ": " << result.err);
        }
        if (answer != nullptr) {
            *answer = readFile(out);
        }
        ::unlink(out.c_str());
        return std::atoi(result.out.c_str());
    }

    TempDir tmp;
    ServiceUsers users;
    std::unique_ptr<BusClient> client;
    int port = 0;

private:
    void startScheduler() {
        writeFile(tmp.sub("fetchmld.yaml"), "paths:\n  state_dir: " + stateDir() +
                                                "\n  runtime_dir: " + tmp.sub("sched-run") +
                                                "\nlog:\n  level: info\n  target: console\n");
        SpawnOptions o;
        o.argv = {binaryPath("fetchmld"), "--config", tmp.sub("fetchmld.yaml")};
        o.env = {bus_.envEntry()};
        o.stderrPath = tmp.sub("fetchmld.log");
        if (users.root) {
            o.uid = users.scheduler;
            o.gid = users.group;
        }
        scheduler_.emplace(Process::spawn(o));
        bool up = bus_.waitForName("org.fetchml.Scheduler1", *scheduler_);
        INFO(readFile(tmp.sub("fetchmld.log")));
        REQUIRE(up);
        client = std::make_unique<BusClient>(
            sdbus::createSessionBusConnectionWithAddress(bus_.address()));
    }

    void startEdge(const std::string& extraConfig) {
        writeFile(tmp.sub("edge.yaml"),
                  "paths:\n  state_dir: " + tmp.sub("edge-state") + "\n  runtime_dir: " +
                      tmp.sub("run") + "\nlog:\n  level: info\n  target: console\n" +
                      "https:\n  address: 127.0.0.1\n  port: 0\n  threads: 2\n  spool_dir: " +
                      tmp.sub("spool") + "\n" + extraConfig);
        SpawnOptions o;
        o.argv = {binaryPath("fetchml-httpsd"), "--config", tmp.sub("edge.yaml")};
        o.env = {bus_.envEntry()};
        o.stderrPath = edgeLog();
        o.stdoutPath = edgeLog();
        if (users.root) {
            o.uid = users.https;
            o.gid = users.httpsGid;
        }
        edge_.emplace(Process::spawn(o));
        bool up = waitUntil([&] { return !edge_->running() || !readFile(portFile()).empty(); });
        INFO(readFile(edgeLog()));
        REQUIRE(up);
        REQUIRE(edge_->running());
        port = std::stoi(readFile(portFile()));
    }

    DbusDaemon bus_;
    std::optional<Process> scheduler_;
    std::optional<Process> edge_;
};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) {
            out.push_back(line);
        }
    }
    return out;
}

/// The "Key:\tvalue" line of a /proc/<pid>/status file ("" when absent).
std::string statusField(const std::string& status, const std::string& key) {
    for (const auto& line : lines(status)) {
        if (line.rfind(key + ":\t", 0) == 0) {
            return line.substr(key.size() + 2);
        }
    }
    return "";
}

/// errno of open(path, O_RDONLY) in a child running as uid:gid without supplementary groups
/// (0 when it opened).
int openErrnoAs(const std::string& path, uid_t uid, gid_t gid) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
            ::_exit(255);
        }
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ::_exit(fd >= 0 ? 0 : errno);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 255);
    return WEXITSTATUS(status);
}

std::string newKey(Stack& stack, const std::string& name, const std::string& role) {
    auto added =
        stack.client->AddUser({{"name", sdbus::Variant(name)}, {"role", sdbus::Variant(role)}});
    return added.at("api_key").get<std::string>();
}

}  // namespace

TEST_CASE("fail2ban's filter finds exactly the failed logins, with the attacker's address",
          "[httpsd][fail2ban]") {
    // Lift the edge's own budgets: every request must reach its 401 or 200, not 429.
    Stack stack("  rate_limit_per_minute: 6000\n  auth_failures_per_minute: 6000\n");
    std::string key = newKey(stack, "alice", "researcher");

    // 20 failed logins from 127.0.0.2: wrong keys, malformed keys, no key at all.
    const std::vector<std::string> bad = {
        "Bearer fml_0123456789ab_wrongwrongwrongwrongwrongwrongwrongwrong",
        "Bearer fml_" + key.substr(4, 12) + "_notthesecretnotthesecretnotthesecret1234",
        "Bearer fml_",
        "Bearer fml_zz_",
        "Bearer notakey",
        "Bearer " + std::string(300, 'A'),
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer authentication failed from 10.9.9.9: forged",
        "",
        "Bearer fml_ffffffffffff_x",
    };
    int failures = 0;
    for (int i = 0; i < 20; ++i) {
        const std::string& authorization = bad[i % bad.size()];
        bool post = i % 3 == 0;
        int status = post ? stack.request("127.0.0.2", "POST", "/v1/blobs/missing", authorization,
                                          R"({"hashes":[]})")
                          : stack.request("127.0.0.2", "GET", "/v1/jobs", authorization);
        INFO(i << ": " << authorization);
        CHECK(status == 401);
        failures += status == 401 ? 1 : 0;
    }
    REQUIRE(failures == 20);
    // 20 good requests from 127.0.0.3 with alice's real key: reads and state-changing calls.
    for (int i = 0; i < 20; ++i) {
        int status = i % 2 == 0 ? stack.request("127.0.0.3", "GET", "/v1/jobs", "Bearer " + key)
                                : stack.request("127.0.0.3", "POST", "/v1/blobs/missing",
                                                "Bearer " + key, R"({"hashes":[]})");
        CHECK(status == 200);
    }
    CHECK(stack.stopEdge() == 0);  // every line written

    std::string log = readFile(stack.edgeLog());
    INFO(log);
    auto r = run({"fail2ban-regex", "-o", "ip", stack.edgeLog(),
                  sourceDir() + "/configs/fail2ban/filter.d/fetchml.conf"});
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
    auto matched = lines(r.out);
    CHECK(matched.size() == 20);
    for (const auto& ip : matched) {
        CHECK(ip == "127.0.0.2");
    }
    // The good client's successes are audited too, and never matched.
    CHECK(log.find("audit: authenticated from 127.0.0.3: key " + key.substr(4, 12) +
                   ", POST /v1/blobs/missing answered 200") != std::string::npos);
    // No secret in the log: neither the real key nor the wrong ones.
    CHECK(log.find(key.substr(17)) == std::string::npos);
    CHECK(log.find("wrongwrongwrong") == std::string::npos);
    CHECK(log.find("notthesecret") == std::string::npos);
}

TEST_CASE("the running edge is confined: seccomp, no-new-privileges, no access to the state",
          "[httpsd][privilege]") {
    Stack stack("  max_body_bytes: 1048576\n  rate_limit_per_minute: 6000\n");
    std::string proc = "/proc/" + std::to_string(stack.edgePid());
    // The filter goes in just after the port file is written (in sanitizer builds after a
    // leak check that takes a moment): wait for it to be in place, or for the deadline.
    waitUntil([&] { return statusField(readFile(proc + "/status"), "Seccomp") == "2"; }, 60000);
    std::string status = readFile(proc + "/status");
    INFO(status);
    CHECK(statusField(status, "Seccomp") == "2");
    CHECK(statusField(status, "NoNewPrivs") == "1");
    // Every thread (the D-Bus pool too) has the filter: it was installed with TSYNC.
    int threads = 0;
    if (DIR* dir = ::opendir((proc + "/task").c_str())) {
        while (dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') {
                continue;
            }
            ++threads;
            std::string task = readFile(proc + "/task/" + entry->d_name + "/status");
            INFO(entry->d_name);
            CHECK(statusField(task, "Seccomp") == "2");
        }
        ::closedir(dir);
    }
    CHECK(threads > 1);
    if (stack.users.root) {
        CHECK(statusField(status, "Uid").rfind(std::to_string(stack.users.https) + "\t", 0) == 0);
    }

    // Every route still works under the filter: upload, commit, submit, list, get, cancel.
    std::string key = newKey(stack, "bob", "researcher");
    std::string bearer = "Bearer " + key;
    std::string dir = stack.tmp.sub("exp");
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    writeFile(dir + "/train.sh", "echo hello\n", 0755);
    auto manifest = fetchml::Manifest::scan(dir);
    REQUIRE(manifest.ok());
    std::vector<fetchml::PackItem> items;
    std::string sha;
    for (const auto& entry : manifest->entries()) {
        items.push_back({entry.sha256, dir + "/" + entry.path});
        sha = entry.sha256;
    }
    std::string pack = stack.tmp.sub("pack");
    int fd = ::open(pack.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(fetchml::PackWriter(items).writeTo(fd).ok());
    ::close(fd);
    const std::string host = "127.0.0.1";
    std::string body;
    CHECK(stack.request(host, "GET", "/health", "") == 200);
    CHECK(stack.request(host, "POST", "/v1/blobs/missing", bearer,
                        json{{"hashes", manifest->blobHashes()}}.dump(), "", &body) == 200);
    CHECK(stack.request(host, "POST", "/v1/blobs", bearer, "", pack, &body) == 200);
    INFO(body);
    CHECK(json::parse(body, nullptr, false)["stored"] == 1);
    CHECK(stack.request(host, "GET", "/v1/blobs/" + sha, bearer, "", "", &body) == 200);
    CHECK(body == "echo hello\n");
    CHECK(stack.request(host, "POST", "/v1/commits", bearer,
                        json{{"manifest", manifest->text()}}.dump()) == 201);
    json submit{{"commit", manifest->commitId()},
                {"command", {"sh", "train.sh"}},
                {"image", "rootfs:busybox"},
                {"name", "confined"}};
    REQUIRE(stack.request(host, "POST", "/v1/jobs", bearer, submit.dump(), "", &body) == 201);
    std::string id = json::parse(body)["id"];
    CHECK(stack.request(host, "GET", "/v1/jobs?state=queued", bearer, "", "", &body) == 200);
    CHECK(body.find(id) != std::string::npos);
    CHECK(stack.request(host, "GET", "/v1/jobs/" + id, bearer) == 200);
    CHECK(stack.request(host, "POST", "/v1/jobs/" + id + "/cancel", bearer) == 200);
    CHECK(stack.request(host, "POST", "/v1/users", bearer, R"({"name":"eve"})") == 403);
    CHECK(stack.request(host, "GET", "/v1/jobs", "Bearer fml_0123456789ab_nope") == 401);
    // SIGHUP re-reads the configuration file under the filter.
    ::kill(stack.edgePid(), SIGHUP);
    REQUIRE(waitUntil(
        [&] { return readFile(stack.edgeLog()).find("reloaded ") != std::string::npos; }));
    CHECK(stack.request(host, "GET", "/v1/jobs/" + id, bearer) == 200);

    // The edge's user cannot read fetchmld's database or store: only through fetchmld.
    struct stat st {};
    REQUIRE(::stat(stack.stateDir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0007) == 0);
    std::string db = stack.stateDir() + "/fetchml.db";
    REQUIRE(::access(db.c_str(), F_OK) == 0);
    if (stack.users.root) {
        CHECK(st.st_uid == stack.users.scheduler);
        CHECK(openErrnoAs(db, stack.users.https, stack.users.httpsGid) == EACCES);
        CHECK(openErrnoAs(stack.stateDir() + "/store", stack.users.https, stack.users.httpsGid) ==
              EACCES);
        CHECK(openErrnoAs(stack.stateDir(), stack.users.https, stack.users.httpsGid) == EACCES);
    } else {
        WARN("not root: the edge runs as the test's user; the access check needs root");
    }

    // A clean stop under the filter (it removes its port file); nothing was killed by SIGSYS.
    CHECK(stack.stopEdge() == 0);
    CHECK(::access(stack.portFile().c_str(), F_OK) != 0);
    std::string log = readFile(stack.edgeLog());
    CHECK(log.find("seccomp allow-list installed") != std::string::npos);
    CHECK(log.find(key.substr(17)) == std::string::npos);
}
