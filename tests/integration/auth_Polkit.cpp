// Local callers and polkit, for real: a private system bus with polkit's own bus policy, the
// real polkitd on it, FetchML's actions (polkit/org.fetchml.policy) and rules
// (polkit/49-fetchml.rules) installed where polkitd reads them, and fetchmld asking polkit
// about every call of a local user who is neither root nor fetchmld's user. A member of group
// fetchml-admin may do everything; another user may do nothing (no active session, so the
// actions' defaults say no). Needs root (installs the policy files and makes two test users).

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "support/Support.hpp"

using namespace fetchml::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPolkitd = "/usr/lib/polkit-1/polkitd";
constexpr const char* kBusPolicy = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf";
constexpr const char* kActions = "/usr/share/polkit-1/actions/org.fetchml.policy";
constexpr const char* kRules = "/etc/polkit-1/rules.d/49-fetchml.rules";

/// Installs a file for the test's lifetime; restores what was there before.
class Installed {
public:
    Installed(const std::string& from, const std::string& to) : to_(to) {
        had_ = fs::exists(to);
        if (had_) {
            old_ = readFile(to);
        }
        writeFile(to, readFile(from), 0644);
    }
    ~Installed() {
        if (had_) {
            writeFile(to_, old_, 0644);
        } else {
            ::unlink(to_.c_str());
        }
    }

private:
    std::string to_, old_;
    bool had_ = false;
};

uid_t ensureUser(const std::string& name, const std::string& groups) {
    if (run({"id", "-u", name}).exitCode != 0) {
        std::vector<std::string> argv{"useradd", "--system", "--no-create-home", "--shell",
                                      "/usr/sbin/nologin"};
        if (!groups.empty()) {
            argv.insert(argv.end(), {"--groups", groups});
        }
        argv.push_back(name);
        auto r = run(argv);
        INFO(r.err);
        REQUIRE(r.exitCode == 0);
    }
    return static_cast<uid_t>(std::stoul(run({"id", "-u", name}).out));
}

gid_t primaryGid(const std::string& name) {
    return static_cast<gid_t>(std::stoul(run({"id", "-g", name}).out));
}

}  // namespace

TEST_CASE("polkit decides for local callers: fetchml-admin members yes, others no",
          "[auth][polkit]") {
    if (::geteuid() != 0 || ::access(kPolkitd, X_OK) != 0) {
        WARN("needs root and polkitd (package polkitd)");
        return;
    }
    REQUIRE(run({"sh", "-c", "getent group fetchml-admin || groupadd --system fetchml-admin"})
                .exitCode == 0);
    uid_t admin = ensureUser("fetchml-t-admin", "fetchml-admin");
    uid_t other = ensureUser("fetchml-t-user", "");
    Installed actions(sourceDir() + "/polkit/org.fetchml.policy", kActions);
    Installed rules(sourceDir() + "/polkit/49-fetchml.rules", kRules);

    TempDir tmp;
    ::mkdir(tmp.sub("bus").c_str(), 0755);
    // fetchmld runs as user fetchml, as its unit makes it: polkit answers it only because the
    // policy names that user as the actions' owner.
    ServiceUsers users = ensureServiceUsers();
    DbusDaemon bus(tmp.sub("bus"), users.root ? "fetchml" : "", {kBusPolicy});
    SpawnOptions p;
    p.argv = {kPolkitd, "--no-debug"};
    p.env = {bus.envEntry()};
    p.stderrPath = tmp.sub("polkitd.log");
    Process polkitd = Process::spawn(p);
    INFO(readFile(tmp.sub("polkitd.log")));
    REQUIRE(bus.waitForName("org.freedesktop.PolicyKit1", polkitd));
    REQUIRE(polkitd.running());

    for (const char* dir : {"state", "run"}) {
        REQUIRE(::mkdir(tmp.sub(dir).c_str(), 0750) == 0);
        if (users.root) {
            REQUIRE(::chown(tmp.sub(dir).c_str(), users.scheduler, users.group) == 0);
        }
    }
    writeFile(tmp.sub("fetchmld.yaml"), "paths:\n  state_dir: " + tmp.sub("state") +
                                            "\n  runtime_dir: " + tmp.sub("run") +
                                            "\nlog:\n  level: info\n  target: console\n");
    SpawnOptions d;
    d.argv = {binaryPath("fetchmld"), "--config", tmp.sub("fetchmld.yaml")};
    d.env = {bus.envEntry()};
    d.stderrPath = tmp.sub("fetchmld.log");
    if (users.root) {
        d.uid = users.scheduler;
        d.gid = users.group;
    }
    Process fetchmld = Process::spawn(d);
    REQUIRE(bus.waitForName("org.fetchml.Scheduler1", fetchmld));
    INFO(readFile(tmp.sub("fetchmld.log")));
    REQUIRE(fetchmld.running());

    std::vector<std::string> env = {
        bus.envEntry(), "FETCHML_SERVER=", "FETCHML_API_KEY=", "XDG_CONFIG_HOME=/nonexistent"};
    auto ctl = [&](uid_t uid, const std::string& name, std::vector<std::string> args) {
        args.insert(args.begin(), binaryPath("fetchmlctl"));
        return run(args, env, uid, primaryGid(name));
    };

    auto added = ctl(admin, "fetchml-t-admin", {"user", "add", "bob", "--role", "researcher"});
    INFO(added.err << readFile(tmp.sub("fetchmld.log")));
    CHECK(added.exitCode == 0);
    CHECK(added.out.rfind("fml_", 0) == 0);
    CHECK(ctl(admin, "fetchml-t-admin", {"status"}).exitCode == 0);

    auto refused = ctl(other, "fetchml-t-user", {"user", "add", "carol", "--role", "viewer"});
    CHECK(refused.exitCode == 3);
    CHECK(refused.err.find("fetchml-t-user (role local) lacks permission users.manage") !=
          std::string::npos);
    CHECK(ctl(other, "fetchml-t-user", {"status"}).exitCode == 3);

    // whoami shows what polkit grants each of them.
    auto adminWho = ctl(admin, "fetchml-t-admin", {"whoami", "--json"});
    INFO(adminWho.err);
    CHECK(adminWho.out.find("\"users.manage\"") != std::string::npos);
    auto otherWho = ctl(other, "fetchml-t-user", {"whoami", "--json"});
    INFO(otherWho.out << otherWho.err);
    CHECK(otherWho.exitCode == 0);
    CHECK(otherWho.out.find("users.manage") == std::string::npos);
    CHECK(otherWho.out.find("jobs.submit") == std::string::npos);
    // The plain text says so too (a local caller's role is only "local").
    auto adminText = ctl(admin, "fetchml-t-admin", {"whoami"});
    CHECK_THAT(adminText.out, Catch::Contains("may: ") && Catch::Contains("users.manage"));
    auto otherText = ctl(other, "fetchml-t-user", {"whoami"});
    CHECK_THAT(otherText.out, Catch::Contains("may: nothing"));

    std::string log = readFile(tmp.sub("fetchmld.log"));
    CHECK(log.find("action=user.add result=ok user=fetchml-t-admin") != std::string::npos);
    CHECK(log.find("action=user.add result=denied user=fetchml-t-user") != std::string::npos);
    fetchmld.stop();
    polkitd.stop();
}
