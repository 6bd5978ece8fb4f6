// Integration test for fetchml-workerd with real rootless podman: the daemon is started the
// way systemd starts it (systemd-socket-activate passes the listening socket) as the worker
// user, and the test plays fetchmld on the worker socket (docs/architecture/decisions.md,
// "Worker socket"). Images: the busybox root file system from packaging/images/busybox/build.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "proto/LineBuffer.hpp"
#include "support/FakeCdiGpus.hpp"
#include "support/Support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace fetchml::test;

namespace {

// The test's side of the worker socket: JSON lines out, every received message kept.
class WorkerClient {
public:
    // logPath: the daemon's stderr, shown when an expected message does not come.
    WorkerClient(const std::string& path, std::string logPath) : logPath_(std::move(logPath)) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
        }
    }
    ~WorkerClient() { ::close(fd_); }
    WorkerClient(const WorkerClient&) = delete;
    WorkerClient& operator=(const WorkerClient&) = delete;

    void send(const json& msg) {
        auto line = msg.dump() + "\n";
        REQUIRE(::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(line.size()));
    }

    // Waits (generous deadline against hangs) for a message matching pred; returns it.
    json expect(const std::function<bool(const json&)>& pred, const std::string& what,
                int timeoutMs = 180000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        std::size_t seen = 0;
        for (;;) {
            for (; seen < received_.size(); ++seen) {
                if (pred(received_[seen])) {
                    return received_[seen];
                }
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
            if (left <= 0 || !readSome(static_cast<int>(left))) {
                FAIL("no " << what << " message; received: " << json(received_).dump()
                           << "\nworker log:\n"
                           << readFile(logPath_));
            }
        }
    }

    // The first message of a type about a job.
    json expectFor(const std::string& type, const std::string& id, int timeoutMs = 180000) {
        return expect(
            [&](const json& m) { return m.value("type", "") == type && m.value("id", "") == id; },
            type + " for " + id, timeoutMs);
    }

    const std::vector<json>& received() const { return received_; }

private:
    bool readSome(int timeoutMs) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeoutMs) <= 0) {
            return false;
        }
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            return false;
        }
        lines_.append(buf, static_cast<std::size_t>(n));
        while (auto line = lines_.next()) {
            received_.push_back(json::parse(*line));
        }
        return true;
    }

    std::string logPath_;
    int fd_ = -1;
    fetchml::LineBuffer lines_;
    std::vector<json> received_;
};

struct Fixture {
    ServiceUsers users = ensureServiceUsers();
    TempDir tmp;
    std::string state = tmp.sub("state");
    std::string sockDir = tmp.sub("sock");
    std::string socket = sockDir + "/worker.sock";
    std::string rootfsDir = tmp.sub("rootfs");
    std::string runtimeDir;

    Fixture() {
        auto built = run({sourceDir() + "/packaging/images/busybox/build", rootfsDir + "/busybox"});
        REQUIRE(built.exitCode == 0);
        fs::create_directories(state + "/runs");
        fs::create_directories(sockDir);
        // The worker's podman keeps its run root in its database, so its XDG_RUNTIME_DIR is
        // the one every stack on this machine uses (users.workerRuntimeDir).
        runtimeDir = tmp.sub("run");
        fs::create_directories(runtimeDir);
        for (const auto& d : {sockDir, runtimeDir}) {
            REQUIRE(::chown(d.c_str(), users.worker, users.workerGid) == 0);
        }
        REQUIRE(::chown((state + "/runs").c_str(), users.scheduler, users.group) == 0);
        ::chmod((state + "/runs").c_str(), 02770);
    }

    // What fetchmld does before "run": <runs>/<id> (2770, group fetchml) with a
    // world-readable code tree.
    std::string makeRunDir(const std::string& id) {
        auto dir = state + "/runs/" + id;
        fs::create_directories(dir + "/code");
        writeFile(dir + "/code/train.sh", "echo from-code\n", 0644);
        for (const auto& p : {dir, dir + "/code", dir + "/code/train.sh"}) {
            REQUIRE(::chown(p.c_str(), users.scheduler, users.group) == 0);
        }
        ::chmod(dir.c_str(), 02770);
        ::chmod((dir + "/code").c_str(), 0755);
        return dir;
    }

    // extra: more arguments for fetchml-workerd (--set section.key=value pairs).
    Process startWorker(const std::vector<std::string>& extra = {}) {
        writeFile(tmp.sub("fetchml.yaml"), "log:\n  level: debug\n");
        SpawnOptions o;
        // systemd-socket-activate passes only the variables named with -E to the worker.
        o.argv = {"systemd-socket-activate",
                  "-l",
                  socket,
                  "-E",
                  "XDG_RUNTIME_DIR=" + users.workerRuntimeDir,
                  binaryPath("fetchml-workerd"),
                  "--config",
                  tmp.sub("fetchml.yaml"),
                  "--set",
                  "paths.state_dir=" + state,
                  "--set",
                  "paths.runtime_dir=" + runtimeDir,
                  "--set",
                  "worker.rootfs_dir=" + rootfsDir,
                  "--set",
                  "worker.runtime=runc",
                  "--set",
                  "worker.slots=2",
                  "--set",
                  "worker.cancel_grace_s=2"};
        o.argv.insert(o.argv.end(), extra.begin(), extra.end());
        o.env = {"HOME=" + users.workerHome, "FETCHML_CONFIG=" + tmp.sub("fetchml.yaml")};
        if (users.root) {
            o.uid = users.worker;
            o.gid = users.workerGid;
        }
        o.stderrPath = tmp.sub("workerd.log");
        auto p = Process::spawn(o);
        REQUIRE(waitUntil([&] { return ::access(socket.c_str(), F_OK) == 0; }, 30000));
        return p;
    }

    json job(const std::string& id, std::vector<std::string> command) {
        return {{"type", "run"},
                {"job",
                 {{"id", id},
                  {"image", "rootfs:busybox"},
                  {"command", std::move(command)},
                  {"env", json::object()},
                  {"run_dir", makeRunDir(id)},
                  {"max_runtime_s", 900}}}};
    }
};

std::vector<std::string> sh(const std::string& script) {
    return {"sh", "-c", script};
}

}  // namespace

TEST_CASE("workerd runs jobs in rootless podman", "[integration][workerd]") {
    Fixture f;
    auto worker = f.startWorker();
    WorkerClient client(f.socket, f.tmp.sub("workerd.log"));
    client.send({{"type", "hello"}, {"version", 1}});
    auto hello =
        client.expect([](const json& m) { return m.value("type", "") == "hello"; }, "hello", 60000);
    CHECK(hello["version"] == 1);
    CHECK(hello["capacity"]["slots"] == 2);
    CHECK(hello["capacity"]["cpus"].get<int>() >= 1);
    CHECK(hello["running"] == json::array());

    // SIGHUP reloads the configuration; the daemon keeps serving.
    ::kill(worker.pid(), SIGHUP);
    client.send({{"type", "status"}});
    client.expect([](const json& m) { return m.value("type", "") == "running"; }, "running");

    // SO_PEERCRED: a user that is not root, the worker or in worker.allowed_uids is refused.
    if (f.users.root) {
        ::chmod(f.socket.c_str(), 0666);  // let the other user reach the credential check
        auto probe = run({"python3", "-c",
                          "import socket,sys\n"
                          "s=socket.socket(socket.AF_UNIX)\n"
                          "s.connect(sys.argv[1])\n"
                          "data=b''\n"
                          "try:\n"
                          "  s.sendall(b'{\"type\":\"hello\",\"version\":1}\\n')\n"
                          "  data=s.recv(4096)\n"
                          "except OSError:\n"
                          "  pass\n"
                          "print('answer:' + data.decode())\n",
                          f.socket},
                         {}, f.users.https, f.users.httpsGid);
        INFO(probe.err);
        CHECK(probe.out == "answer:\n");
    }

    // Output, a printed metric, an exit code, the log file and a result file.
    client.send(f.job("hello", sh("echo hello; echo fetchml:metric step=1 loss=0.5; "
                                  "echo done > /workspace/results/out.txt")));
    auto started = client.expectFor("started", "hello");
    CHECK(started["container"].get<std::string>().rfind("fetchml-hello-", 0) == 0);
    auto metric = client.expectFor("metric", "hello");
    CHECK(metric["step"] == 1);
    CHECK(metric["values"]["loss"].get<double>() == Approx(0.5));
    auto exited = client.expectFor("exited", "hello");
    CHECK(exited["exit_code"] == 0);
    CHECK(exited["signal"] == 0);
    CHECK(exited["reason"] == "exited");
    auto runDir = f.state + "/runs/hello";
    auto log = readFile(runDir + "/logs/output.log");
    CHECK(log.find("hello\n") != std::string::npos);
    CHECK(log.find("fetchml:metric step=1 loss=0.5") != std::string::npos);
    CHECK(readFile(runDir + "/results/out.txt") == "done\n");
    CHECK(::access((runDir + "/env").c_str(), F_OK) != 0);  // env file removed at exit

    // The container's exit code is the job's.
    client.send(f.job("exit3", sh("exit 3")));
    auto exit3 = client.expectFor("exited", "exit3");
    CHECK(exit3["exit_code"] == 3);
    CHECK(exit3["reason"] == "exited");

    // An image the worker's storage lacks fails at once: podman never pulls (--pull never), so
    // a job's image name cannot make the host contact a registry.
    auto absent = f.job("absent", {"true"});
    absent["job"]["image"] = "localhost/fetchml-test-absent:latest";
    client.send(absent);
    auto absentExit = client.expectFor("exited", "absent");
    CHECK(absentExit["exit_code"] == 125);
    auto absentLog = readFile(f.state + "/runs/absent/logs/output.log");
    INFO("absent log: " << absentLog);
    CHECK(absentLog.find("localhost/fetchml-test-absent:latest: image not known") !=
          std::string::npos);
    CHECK(absentLog.find("registry") == std::string::npos);

    // Isolation: root inside, the worker uid outside, read-only code, only lo, env passed,
    // JSON metrics from metrics.jsonl.
    auto iso =
        f.job("iso", sh("echo uid=$(id -u); "
                        "touch /workspace/code/x 2>/dev/null && echo code=rw || echo code=ro; "
                        "echo ifaces=$(ip -o link | cut -d: -f2 | tr -d ' ' | tr '\\n' ,); "
                        "echo param=$FETCHML_PARAM_LR job=$FETCHML_JOB_ID; "
                        "cat /workspace/code/train.sh; "
                        "touch /workspace/results/probe; "
                        "echo '{\"step\": 2, \"acc\": 0.75}' >> "
                        "/workspace/results/metrics.jsonl"));
    iso["job"]["env"] = {{"FETCHML_PARAM_LR", "0.125"}};
    client.send(iso);
    auto isoMetric = client.expectFor("metric", "iso");
    CHECK(isoMetric["step"] == 2);
    CHECK(isoMetric["values"]["acc"].get<double>() == Approx(0.75));
    auto isoExit = client.expectFor("exited", "iso");
    CHECK(isoExit["exit_code"] == 0);
    auto isoLog = readFile(f.state + "/runs/iso/logs/output.log");
    INFO("iso log: " << isoLog);
    CHECK(isoLog.find("uid=0\n") != std::string::npos);
    CHECK(isoLog.find("code=ro\n") != std::string::npos);
    CHECK(isoLog.find("ifaces=lo,\n") != std::string::npos);
    CHECK(isoLog.find("param=0.125 job=iso\n") != std::string::npos);
    CHECK(isoLog.find("from-code\n") != std::string::npos);
    struct stat st {};
    REQUIRE(::stat((f.state + "/runs/iso/results/probe").c_str(), &st) == 0);
    CHECK(st.st_uid == f.users.worker);
    REQUIRE(::stat((f.state + "/runs/iso/results").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0770);
    CHECK(::access((f.state + "/runs/iso/code/x").c_str(), F_OK) != 0);

    // Capacity: two long jobs fill both slots, a third is refused; status and a second
    // connection's hello list them; cancel ends them with reason cancelled.
    // The shell is PID 1 in the container and ignores SIGTERM, so cancel takes the whole
    // path: SIGTERM, grace period, podman kill.
    client.send(f.job("sleep1", sh("echo ready; sleep 600")));
    client.send(f.job("sleep2", sh("echo ready; sleep 600")));
    client.expectFor("started", "sleep1");
    client.expectFor("started", "sleep2");
    for (const char* id : {"sleep1", "sleep2"}) {
        auto path = f.state + "/runs/" + id + "/logs/output.log";
        REQUIRE(
            waitUntil([&] { return readFile(path).find("ready\n") != std::string::npos; }, 180000));
    }
    client.send(f.job("extra", {"true"}));
    auto refused = client.expectFor("exited", "extra");
    CHECK(refused["reason"] == "error");
    CHECK(refused["message"] == "no free slot");
    client.send({{"type", "status"}});
    auto running = client.expect(
        [](const json& m) { return m.value("type", "") == "running" && !m["ids"].empty(); },
        "running");
    CHECK(running["ids"] == json::array({"sleep1", "sleep2"}));
    {
        WorkerClient second(f.socket, f.tmp.sub("workerd.log"));
        second.send({{"type", "hello"}, {"version", 1}});
        auto h2 = second.expect([](const json& m) { return m.value("type", "") == "hello"; },
                                "second hello");
        CHECK(h2["running"] == json::array({"sleep1", "sleep2"}));
    }
    client.send({{"type", "cancel"}, {"id", "sleep1"}});
    auto cancelled = client.expectFor("exited", "sleep1");
    CHECK(cancelled["reason"] == "cancelled");
    CHECK(cancelled["exit_code"] != 0);
    CHECK(readFile(f.state + "/runs/sleep1/logs/output.log").find("grace period over") !=
          std::string::npos);

    // Garbage gets an error and the connection stays usable.
    client.send(json("not an object"));
    client.expect([](const json& m) { return m.value("type", "") == "error"; }, "error");

    // SIGTERM: the remaining job is stopped and reported, the daemon exits 0.
    ::kill(worker.pid(), SIGTERM);
    auto stopped = client.expectFor("exited", "sleep2");
    CHECK(stopped["reason"] == "error");
    CHECK(stopped["message"] == "fetchml-workerd is stopping");
    CHECK(worker.wait() == 0);
}

TEST_CASE("workerd offers CDI GPU devices and gives each to one job", "[integration][workerd]") {
    Fixture f;
    if (!f.users.root) {
        WARN("needs root to write a CDI spec to /var/run/cdi; skipped");
        return;
    }
    // Detection reads the copy in the test's own directory; podman resolves the original.
    const std::string cdiDir = f.tmp.sub("cdi");
    FakeCdiGpus gpus(cdiDir);
    auto worker = f.startWorker({"--set", "worker.cdi_spec_dirs=" + cdiDir});
    WorkerClient client(f.socket, f.tmp.sub("workerd.log"));
    client.send({{"type", "hello"}, {"version", 1}});
    auto hello =
        client.expect([](const json& m) { return m.value("type", "") == "hello"; }, "hello", 60000);
    CHECK(hello["capacity"]["gpus"] ==
          json::array({"test.fetchml.org/gpu=0", "test.fetchml.org/gpu=1"}));

    // The job sees the device's edits: podman applied the CDI spec for gpu=1.
    auto holder = f.job("gpu1", sh("echo device=$FETCHML_TEST_GPU; sleep 2"));
    holder["job"]["gpus"] = json::array({"test.fetchml.org/gpu=1"});
    client.send(holder);
    client.expectFor("started", "gpu1");
    // While gpu1 runs, its device is nobody else's; a device the worker lacks is refused.
    auto second = f.job("gpu1again", sh("true"));
    second["job"]["gpus"] = json::array({"test.fetchml.org/gpu=1"});
    client.send(second);
    auto refused = client.expectFor("exited", "gpu1again");
    CHECK(refused["reason"] == "error");
    CHECK(refused["message"] == "GPU test.fetchml.org/gpu=1 is in use by job gpu1");
    auto unknown = f.job("gpu9", sh("true"));
    unknown["job"]["gpus"] = json::array({"test.fetchml.org/gpu=9"});
    client.send(unknown);
    auto notOffered = client.expectFor("exited", "gpu9");
    CHECK(notOffered["message"] == "GPU test.fetchml.org/gpu=9 is not offered by this worker");

    auto done = client.expectFor("exited", "gpu1");
    CHECK(done["exit_code"] == 0);
    CHECK(readFile(f.state + "/runs/gpu1/logs/output.log").find("device=1\n") != std::string::npos);
    // Free again: the next job gets it.
    auto later = f.job("gpu1later", sh("test \"$FETCHML_TEST_GPU\" = 1"));
    later["job"]["gpus"] = json::array({"test.fetchml.org/gpu=1"});
    client.send(later);
    CHECK(client.expectFor("exited", "gpu1later")["exit_code"] == 0);
}
