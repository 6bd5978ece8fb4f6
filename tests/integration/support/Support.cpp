#include "support/Support.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace fetchml::test {
namespace {

int decodeStatus(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

// Replaces or adds KEY=VALUE entries in a copy of the current environment.
std::vector<std::string> mergedEnv(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        env.emplace_back(*e);
    }
    for (const auto& kv : extra) {
        auto key = kv.substr(0, kv.find('=') + 1);
        std::erase_if(env, [&](const std::string& s) { return s.rfind(key, 0) == 0; });
        env.push_back(kv);
    }
    return env;
}

// Everything a forked child needs, made in the parent. The tests fork while other threads run
// (a submitter thread, sd-bus); between fork and exec the child may only make
// async-signal-safe calls (signal-safety(7)): an allocation there can wait forever on an
// allocator lock that another thread held at the fork (seen under ASan: the child never
// reached exec, and run() waited for its pipes to close).
struct ChildPlan {
    std::vector<std::string> env;
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::vector<gid_t> groups;
    bool dropIds = false;
    uid_t uid = 0;
    gid_t gid = 0;
    const char* cwd = nullptr;
    bool newSession = true;
};

// Fills plan from the options; the plan must outlive the fork. Looks up the uid's groups
// (getgrouplist(3)); a uid without a passwd entry keeps no supplementary groups.
void prepareChild(const SpawnOptions& o, ChildPlan& plan) {
    plan.env = mergedEnv(o.env);
    for (const auto& a : o.argv) {
        plan.argv.push_back(const_cast<char*>(a.c_str()));
    }
    plan.argv.push_back(nullptr);
    for (const auto& e : plan.env) {
        plan.envp.push_back(const_cast<char*>(e.c_str()));
    }
    plan.envp.push_back(nullptr);
    plan.newSession = o.newSession;
    plan.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
    if (o.uid) {
        plan.dropIds = true;
        plan.uid = *o.uid;
        plan.gid = o.gid.value_or(*o.uid);
        if (struct passwd* pw = getpwuid(plan.uid); pw != nullptr) {
            int n = 64;
            plan.groups.resize(static_cast<size_t>(n));
            while (getgrouplist(pw->pw_name, plan.gid, plan.groups.data(), &n) < 0) {
                plan.groups.resize(static_cast<size_t>(n));
            }
            plan.groups.resize(static_cast<size_t>(n));
        }
    }
}

// Runs in the forked child: async-signal-safe calls only (see ChildPlan).
[[noreturn]] void childExec(const ChildPlan& plan, int outFd, int errFd, int inFd) {
    if (plan.newSession) {
        setsid();
    }
    if (inFd >= 0) {
        dup2(inFd, 0);
    }
    if (outFd >= 0) {
        dup2(outFd, 1);
    }
    if (errFd >= 0) {
        dup2(errFd, 2);
    }
    if (plan.dropIds) {
        if (setgroups(plan.groups.size(), plan.groups.data()) != 0 || setgid(plan.gid) != 0 ||
            setuid(plan.uid) != 0) {
            _exit(126);
        }
    }
    if (plan.cwd != nullptr && chdir(plan.cwd) != 0) {
        _exit(126);
    }
    execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
    _exit(127);
}

int openAppend(const std::string& path) {
    if (path.empty()) {
        return -1;
    }
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

}  // namespace

std::string sourceDir() {
    return FETCHML_SOURCE_DIR;
}
std::string binaryDir() {
    return FETCHML_BINARY_DIR;
}

std::string binaryPath(const std::string& name) {
    for (const auto& dir : {binaryDir() + "/daemons/" + name, binaryDir() + "/ctl", binaryDir()}) {
        auto p = dir + "/" + name;
        if (access(p.c_str(), X_OK) == 0) {
            return p;
        }
    }
    throw std::runtime_error("binary " + name + " is not built under " + binaryDir());
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/fetchml-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    }
    chmod(tmpl.c_str(), 0755);
    path_ = tmpl;
}

namespace {

std::mutex gKeysMutex;
std::set<std::string> gKeys;  // every API key a test saw created

const std::regex& keyPattern() {
    static const std::regex pattern("fml_[0-9a-f]{12}_[A-Za-z0-9_-]{43}");
    return pattern;
}

}  // namespace

void rememberKeys(const std::string& text) {
    std::lock_guard lock(gKeysMutex);
    for (std::sregex_iterator it(text.begin(), text.end(), keyPattern()), end; it != end; ++it) {
        gKeys.insert(it->str());
    }
}

std::vector<std::string> leakedSecrets(const std::string& dir) {
    std::set<std::string> keys;
    {
        std::lock_guard lock(gKeysMutex);
        keys = gKeys;
    }
    std::vector<std::string> leaks;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec) || it->path().extension() != ".log") {
            continue;
        }
        std::string text = readFile(it->path().string());
        std::smatch m;
        if (std::regex_search(text, m, keyPattern())) {
            leaks.push_back(it->path().string() + ": an API key (key id " + m.str().substr(4, 12) +
                            ")");
        }
        for (const auto& key : keys) {
            if (text.find(key.substr(17)) != std::string::npos) {
                leaks.push_back(it->path().string() + ": the secret of key " + key.substr(4, 12));
            }
        }
    }
    return leaks;
}

TempDir::~TempDir() {
    // Every log a test produced is checked for every key the suite saw created; a leak is
    // recorded in <build>/secret-leaks.txt, which scripts/test turns into a failed run.
    auto leaks = leakedSecrets(path_);
    if (!leaks.empty()) {
        std::ofstream out(binaryDir() + "/secret-leaks.txt", std::ios::app);
        for (const auto& leak : leaks) {
            out << leak << "\n";
            std::fprintf(stderr, "SECRET LEAK: %s\n", leak.c_str());
        }
    }
    const char* keep = std::getenv("FETCHML_KEEP_TMP");
    if (keep != nullptr && std::string(keep) == "1") {
        return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
}

Process Process::spawn(const SpawnOptions& options) {
    if (options.argv.empty()) {
        throw std::runtime_error("spawn: empty argv");
    }
    ChildPlan plan;
    prepareChild(options, plan);
    int outFd = openAppend(options.stdoutPath);
    int errFd = openAppend(options.stderrPath);
    pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
        childExec(plan, outFd, errFd, -1);
    }
    if (outFd >= 0) {
        close(outFd);
    }
    if (errFd >= 0) {
        close(errFd);
    }
    return Process(pid);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !status_) {
            stop();
        }
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
    }
    return *this;
}

Process::~Process() {
    if (pid_ > 0 && !status_) {
        stop();
    }
}

std::optional<int> Process::tryWait() {
    if (status_ || pid_ <= 0) {
        return status_;
    }
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = decodeStatus(st);
    }
    return status_;
}

int Process::wait() {
    while (!status_ && pid_ > 0) {
        int st = 0;
        pid_t r = waitpid(pid_, &st, 0);
        if (r == pid_) {
            status_ = decodeStatus(st);
        } else if (r < 0 && errno != EINTR) {
            status_ = -1;
        }
    }
    return status_.value_or(-1);
}

int Process::stop(int sig, int graceMs) {
    if (pid_ <= 0 || tryWait()) {
        return status_.value_or(-1);
    }
    kill(pid_, sig);
    if (!waitUntil([&] { return tryWait().has_value(); }, graceMs, 20)) {
        kill(pid_, SIGKILL);
    }
    return wait();
}

// The longest a command run() starts may take (image builds take about a minute).
constexpr std::chrono::seconds kRunLimit{900};

CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  std::optional<uid_t> uid, std::optional<gid_t> gid, const std::string& input) {
    int outPipe[2];
    int errPipe[2];
    int inPipe[2];
    if (pipe2(outPipe, O_CLOEXEC) != 0 || pipe2(errPipe, O_CLOEXEC) != 0 ||
        pipe2(inPipe, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe failed");
    }
    SpawnOptions o;
    o.argv = argv;
    o.uid = uid;
    o.gid = gid;
    o.env = env;
    o.newSession = false;
    ChildPlan plan;
    prepareChild(o, plan);
    pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
        childExec(plan, outPipe[1], errPipe[1], inPipe[0]);
    }
    close(outPipe[1]);
    close(errPipe[1]);
    close(inPipe[0]);
    signal(SIGPIPE, SIG_IGN);
    if (!input.empty()) {
        [[maybe_unused]] auto n = write(inPipe[1], input.data(), input.size());
    }
    close(inPipe[1]);
    CommandResult result;
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    const auto deadline = std::chrono::steady_clock::now() + kRunLimit;
    while (open > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            // A hung command must fail its test with a name, not run into ctest's timeout.
            kill(pid, SIGKILL);
            for (auto& f : fds) {
                if (f.fd >= 0) {
                    close(f.fd);
                }
            }
            while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
            throw std::runtime_error("run: " + argv[0] + " did not finish within " +
                                     std::to_string(kRunLimit.count()) + " s");
        }
        if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) != 0) {
                ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    --open;
                } else {
                    (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
                }
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    result.exitCode = decodeStatus(st);
    rememberKeys(result.out);
    rememberKeys(result.err);
    return result;
}

bool waitUntil(const std::function<bool()>& pred, int timeoutMs, int stepMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (true) {
        if (pred()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return pred();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(stepMs));
    }
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeFile(const std::string& path, const std::string& content, int mode) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    chmod(path.c_str(), static_cast<mode_t>(mode));
}

bool DbusDaemon::waitForName(const std::string& name, Process& owner) const {
    auto owned = [&] {
        return run({"busctl", "--address=" + address_, "status", name}).exitCode == 0;
    };
    waitUntil([&] { return !owner.running() || owned(); });
    return owner.running() && owned();
}

DbusDaemon::DbusDaemon(const std::string& dir, const std::string& ownerUser,
                       const std::vector<std::string>& extraPolicies) {
    std::string owner = ownerUser;
    if (owner.empty()) {
        struct passwd* pw = getpwuid(geteuid());
        owner = pw != nullptr ? pw->pw_name : "root";
    }
    auto socket = dir + "/bus";
    address_ = "unix:path=" + socket;
    // The project's policy, with the owning user rewritten for the test's user.
    std::string policy = readFile(sourceDir() + "/configs/dbus/org.fetchml.Scheduler1.conf");
    const std::string ownerAttr = "user=\"" + owner + "\"";
    for (auto p = policy.find("user=\"fetchml\""); p != std::string::npos;
         p = policy.find("user=\"fetchml\"", p + ownerAttr.size())) {
        policy.replace(p, 14, ownerAttr);
    }
    auto policyPath = dir + "/org.fetchml.Scheduler1.conf";
    writeFile(policyPath, policy);
    std::string conf =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n  <type>system</type>\n  <listen>" +
        address_ +
        "</listen>\n  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow user=\"*\"/>\n    <deny own=\"*\"/>\n    <deny send_type=\"method_call\"/>\n"
        "    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
        "    <allow send_type=\"signal\"/>\n    <allow send_requested_reply=\"true\" "
        "send_type=\"method_return\"/>\n    <allow send_requested_reply=\"true\" "
        "send_type=\"error\"/>\n    <allow receive_type=\"method_call\"/>\n"
        "    <allow receive_type=\"method_return\"/>\n    <allow receive_type=\"error\"/>\n"
        "    <allow receive_type=\"signal\"/>\n  </policy>\n"
        "  <include ignore_missing=\"no\">" +
        policyPath + "</include>\n";
    for (const auto& extra : extraPolicies) {
        conf += "  <include ignore_missing=\"no\">" + extra + "</include>\n";
    }
    conf += "</busconfig>\n";
    auto confPath = dir + "/bus.conf";
    writeFile(confPath, conf);
    SpawnOptions o;
    o.argv = {"dbus-daemon", "--nofork", "--nopidfile", "--config-file=" + confPath};
    o.stderrPath = dir + "/dbus-daemon.log";
    process_.emplace(Process::spawn(o));
    if (!waitUntil([&] { return access(socket.c_str(), F_OK) == 0; }, 30000)) {
        throw std::runtime_error("dbus-daemon did not create " + socket + ": " +
                                 readFile(dir + "/dbus-daemon.log"));
    }
    chmod(socket.c_str(), 0777);
}

ServiceUsers ensureServiceUsers() {
    ServiceUsers u{};
    if (geteuid() != 0) {
        u.scheduler = u.worker = u.https = getuid();
        u.group = u.workerGid = u.httpsGid = getgid();
        const char* home = std::getenv("HOME");
        u.workerHome = home != nullptr ? home : "/tmp";
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        u.workerRuntimeDir = xdg != nullptr ? xdg : "";
        u.root = false;
        return u;
    }
    auto sysusers = run({"systemd-sysusers", sourceDir() + "/units/fetchml.sysusers"});
    if (sysusers.exitCode != 0) {
        throw std::runtime_error("systemd-sysusers failed: " + sysusers.err);
    }
    struct Account {
        uid_t pw_uid;
        gid_t pw_gid;
        std::string home;
    };
    // getpwnam's strings live in a static buffer that the next call overwrites: copy them.
    auto lookup = [](const char* name) {
        struct passwd* pw = getpwnam(name);
        if (pw == nullptr) {
            throw std::runtime_error(std::string("user ") + name + " missing after sysusers");
        }
        return Account{pw->pw_uid, pw->pw_gid, pw->pw_dir};
    };
    auto sched = lookup("fetchml");
    auto worker = lookup("fetchml-worker");
    auto https = lookup("fetchml-https");
    struct group* gr = getgrnam("fetchml");
    if (gr == nullptr) {
        throw std::runtime_error("group fetchml missing after sysusers");
    }
    if (readFile("/etc/subuid").find("fetchml-worker:") == std::string::npos) {
        auto r = run({"usermod", "--add-subuids", "524288-589823", "--add-subgids", "524288-589823",
                      "fetchml-worker"});
        if (r.exitCode != 0) {
            throw std::runtime_error("usermod --add-subuids failed: " + r.err);
        }
    }
    u.scheduler = sched.pw_uid;
    u.worker = worker.pw_uid;
    u.https = https.pw_uid;
    u.group = gr->gr_gid;
    u.workerGid = worker.pw_gid;
    u.httpsGid = https.pw_gid;
    u.workerHome = worker.home;  // /var/lib/fetchml-worker, as under systemd
    fs::create_directories(u.workerHome);
    if (chown(u.workerHome.c_str(), u.worker, u.workerGid) != 0) {
        throw std::runtime_error("chown " + u.workerHome + " failed");
    }
    chmod(u.workerHome.c_str(), 0700);
    u.workerRuntimeDir = "/tmp/fetchml-worker-run";
    fs::create_directories(u.workerRuntimeDir);
    if (chown(u.workerRuntimeDir.c_str(), u.worker, u.workerGid) != 0) {
        throw std::runtime_error("chown " + u.workerRuntimeDir + " failed");
    }
    chmod(u.workerRuntimeDir.c_str(), 0700);
    u.root = true;
    return u;
}

std::string busyboxRootfsDir() {
    auto dir = binaryDir() + "/test-rootfs";
    auto r = run({sourceDir() + "/packaging/images/busybox/build", dir + "/busybox"});
    if (r.exitCode != 0) {
        throw std::runtime_error("packaging/images/busybox/build failed: " + r.err);
    }
    chmod(dir.c_str(), 0755);
    return dir;
}

}  // namespace fetchml::test
