// Integration test of fetchml-idmapd with real socket activation (systemd-socket-activate
// --accept), the real newuidmap/newgidmap clients running as fetchml-worker, and real user
// namespaces: maps within /etc/subuid are written, everything else is refused and leaves the
// namespace unmapped. Needs root (the helper writes other users' maps, as under systemd).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "support/Support.hpp"

using namespace fetchml::test;

namespace {

std::string nsOf(pid_t pid) {
    char buf[128];
    auto path = "/proc/" + std::to_string(pid) + "/ns/user";
    ssize_t n = readlink(path.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// First range of user in a subid file, as "START" (the test users get one from
// ensureServiceUsers).
std::string subStart(const std::string& file, const std::string& user) {
    std::istringstream in(readFile(file));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(user + ":", 0) == 0) {
            auto rest = line.substr(user.size() + 1);
            return rest.substr(0, rest.find(':'));
        }
    }
    return {};
}

// A process of user uid/gid that sits in a user namespace of its own with no map yet.
Process unmappedNamespace(uid_t uid, gid_t gid) {
    SpawnOptions o;
    o.argv = {"unshare", "--user", "--", "sleep", "600"};
    o.uid = uid;
    o.gid = gid;
    auto p = Process::spawn(o);
    const auto own = nsOf(getpid());
    REQUIRE(waitUntil([&] {
        auto ns = nsOf(p.pid());
        return !ns.empty() && ns != own;
    }));
    return p;
}

std::string mapOf(pid_t pid, const char* which) {
    return readFile("/proc/" + std::to_string(pid) + "/" + which);
}

// "0 997 1\n1 524288 65536\n" as the kernel prints it: columns padded to width 10.
std::string normalised(const std::string& map) {
    std::istringstream in(map);
    std::string out;
    unsigned long a = 0, b = 0, c = 0;
    while (in >> a >> b >> c) {
        out += std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c) + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("fetchml-idmapd maps the worker's namespaces and refuses the rest", "[idmapd]") {
    if (geteuid() != 0) {
        FAIL("this test needs root: fetchml-idmapd writes other users' maps");
    }
    auto users = ensureServiceUsers();
    const auto uidStart = subStart("/etc/subuid", "fetchml-worker");
    const auto gidStart = subStart("/etc/subgid", "fetchml-worker");
    REQUIRE_FALSE(uidStart.empty());
    REQUIRE_FALSE(gidStart.empty());
    TempDir tmp;
    const auto sock = tmp.sub("idmap.sock");
    SpawnOptions helper;
    // With the capabilities of units/fetchml-idmapd@.service and nothing more.
    helper.argv = {"systemd-socket-activate",
                   "--accept",
                   "-l",
                   sock,
                   "setpriv",
                   "--bounding-set=-all,+setuid,+setgid",
                   "--no-new-privs",
                   "--",
                   binaryPath("fetchml-idmapd")};
    helper.stderrPath = tmp.sub("idmapd.log");
    auto daemon = Process::spawn(helper);
    REQUIRE(waitUntil([&] { return access(sock.c_str(), F_OK) == 0; }));
    // Under systemd the socket unit gives group fetchml-worker rw; here: everyone.
    REQUIRE(chmod(sock.c_str(), 0666) == 0);
    const std::vector<std::string> env{"FETCHML_IDMAP_SOCKET=" + sock};
    const auto newuidmap = binaryDir() + "/idmap/newuidmap";
    const auto newgidmap = binaryDir() + "/idmap/newgidmap";
    const auto worker = std::to_string(users.worker);
    const auto workerGid = std::to_string(users.workerGid);

    SECTION("podman's request: own id at 0, the subordinate range above") {
        auto target = unmappedNamespace(users.worker, users.workerGid);
        const auto pid = std::to_string(target.pid());
        auto u = run({newuidmap, pid, "0", worker, "1", "1", uidStart, "65536"}, env, users.worker,
                     users.workerGid);
        INFO(u.err << readFile(tmp.sub("idmapd.log")));
        REQUIRE(u.exitCode == 0);
        auto g = run({newgidmap, pid, "0", workerGid, "1", "1", gidStart, "65536"}, env,
                     users.worker, users.workerGid);
        INFO(g.err);
        REQUIRE(g.exitCode == 0);
        CHECK(normalised(mapOf(target.pid(), "uid_map")) ==
              "0 " + worker + " 1\n1 " + uidStart + " 65536\n");
        CHECK(normalised(mapOf(target.pid(), "gid_map")) ==
              "0 " + workerGid + " 1\n1 " + gidStart + " 65536\n");
        CHECK_THAT(readFile(tmp.sub("idmapd.log")),
                   Catch::Contains("fetchml-worker") && Catch::Contains("wrote uid map"));
        // A namespace's map is written once (user_namespaces(7)); the kernel's refusal comes
        // back as the client's error.
        auto again = run({newuidmap, pid, "0", worker, "1"}, env, users.worker, users.workerGid);
        CHECK(again.exitCode == 1);
        CHECK_THAT(again.err, Catch::Contains("newuidmap: fetchml-idmapd refused") &&
                                  Catch::Contains("uid_map"));
    }

    SECTION("ids outside the caller's ranges are refused and nothing is written") {
        auto target = unmappedNamespace(users.worker, users.workerGid);
        const auto pid = std::to_string(target.pid());
        const auto past = std::to_string(std::stoul(uidStart) + 65536);
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {newuidmap, pid, "0", worker, "1", "1", past, "10"},
                 {newuidmap, pid, "0", "0", "1"},
                 {newuidmap, pid, "0", worker, "1", "1", uidStart, "65537"}}) {
            auto r = run(args, env, users.worker, users.workerGid);
            CHECK(r.exitCode == 1);
            CHECK_THAT(r.err, Catch::Contains("/etc/subuid"));
        }
        CHECK(normalised(mapOf(target.pid(), "uid_map")).empty());
    }

    SECTION("another user cannot map the worker's process, nor a process of its own ns") {
        auto target = unmappedNamespace(users.worker, users.workerGid);
        const auto pid = std::to_string(target.pid());
        auto r = run({newuidmap, pid, "0", std::to_string(users.https), "1"}, env, users.https,
                     users.httpsGid);
        CHECK(r.exitCode == 1);
        CHECK_THAT(r.err, Catch::Contains("does not belong to the caller"));
        CHECK(normalised(mapOf(target.pid(), "uid_map")).empty());
        auto self = run({newuidmap, std::to_string(daemon.pid()), "0", "0", "1"}, env, users.worker,
                        users.workerGid);
        CHECK(self.exitCode == 1);
        auto none =
            run({newuidmap, "4194304", "0", worker, "1"}, env, users.worker, users.workerGid);
        CHECK(none.exitCode == 1);
        CHECK_THAT(none.err, Catch::Contains("argument 1 (PID)") || Catch::Contains("no process"));
    }

    SECTION("bad arguments never reach the helper; a missing helper is named") {
        auto r = run({newuidmap, "12", "0", worker}, env, users.worker, users.workerGid);
        CHECK(r.exitCode == 1);
        CHECK_THAT(r.err, Catch::Contains("in threes"));
        auto gone =
            run({newuidmap, "12", "0", worker, "1"},
                {"FETCHML_IDMAP_SOCKET=" + tmp.sub("none.sock")}, users.worker, users.workerGid);
        CHECK(gone.exitCode == 1);
        CHECK_THAT(gone.err, Catch::Contains("cannot connect to fetchml-idmapd"));
    }
}
