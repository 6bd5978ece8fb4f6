#pragma once
// Helpers for integration tests: temporary directories, child processes started and stopped
// by PID, a private dbus-daemon, and the service users. Everything started here is stopped
// by its destructor.

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fetchml::test {

/// The source tree and the build tree (compile definitions from tests/CMakeLists.txt).
std::string sourceDir();
std::string binaryDir();
/// Path of a built binary, e.g. binaryPath("fetchmld") -> <build>/daemons/fetchmld/fetchmld.
/// Looks in <build>/daemons/<name>/, <build>/ctl/ and <build>/.
std::string binaryPath(const std::string& name);

/// A fresh directory under $TMPDIR (or /tmp), mode 0755, removed with its contents on
/// destruction (set FETCHML_KEEP_TMP=1 to keep it for debugging).
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    /// path() + "/" + name.
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

/// How to start a child process.
struct SpawnOptions {
    std::vector<std::string> argv;  ///< argv[0] is looked up in PATH if it has no '/'
    std::vector<std::string> env;   ///< extra "KEY=VALUE" entries over the test's env
    std::optional<uid_t> uid;       ///< drop to this uid (with gid and its groups)
    std::optional<gid_t> gid;
    std::string stdoutPath;  ///< "" = inherit; else appended to this file
    std::string stderrPath;  ///< "" = inherit; else appended to this file
    std::string cwd;         ///< "" = inherit
    bool newSession = true;  ///< setsid() so the child has its own group
};

/// A child process. The destructor sends SIGTERM, waits up to 10 s, then SIGKILLs it.
class Process {
public:
    /// Forks and execs; throws std::runtime_error if the fork or exec fails.
    static Process spawn(const SpawnOptions& options);
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    /// Non-blocking: the wait status's exit code (or 128+signal) if it has ended.
    std::optional<int> tryWait();
    /// Blocks until it ends; exit code or 128+signal.
    int wait();
    /// Sends sig, waits up to graceMs, then SIGKILL; returns exit code or 128+signal.
    int stop(int sig = 15, int graceMs = 10000);
    bool running() { return !tryWait().has_value(); }

private:
    explicit Process(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
    std::optional<int> status_;
};

/// Remembers every API key (fml_<id>_<secret>) found in text as created by this test run;
/// run() does this for every command's output. TempDir's destructor then checks every *.log
/// under it for each remembered key's secret and for any key at all, appending leaks to
/// <build>/secret-leaks.txt (scripts/test fails the run when that file exists).
void rememberKeys(const std::string& text);
/// The leaks in dir's *.log files, one description each (never the secret itself).
std::vector<std::string> leakedSecrets(const std::string& dir);

/// Result of run().
struct CommandResult {
    int exitCode = -1;  ///< exit code, or 128+signal
    std::string out;    ///< stdout
    std::string err;    ///< stderr
};

/// Runs a command to completion, capturing stdout and stderr; input goes to its stdin.
/// Throws std::runtime_error if it cannot fork, or if the command's output has not ended
/// within 900 s (the command is then killed with SIGKILL).
CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  std::optional<uid_t> uid = std::nullopt, std::optional<gid_t> gid = std::nullopt,
                  const std::string& input = "");

/// Polls pred every stepMs until it is true or timeoutMs passed (a safety net against hangs,
/// not a timing assertion). Returns pred's last value.
bool waitUntil(const std::function<bool()>& pred, int timeoutMs = 120000, int stepMs = 50);

/// Whole file as a string ("" if it cannot be read).
std::string readFile(const std::string& path);
/// Writes a file (truncating), creating nothing else.
void writeFile(const std::string& path, const std::string& content, int mode = 0644);

/// A private dbus-daemon listening on unix:path=<dir>/bus with the system-bus rules of
/// FetchML's own policy file configs/dbus/org.fetchml.Scheduler1.conf (the user allowed to
/// own the name is rewritten to ownerUser, so the test's user can run fetchmld), plus the
/// policy files in extraPolicies (e.g. polkit's org.freedesktop.PolicyKit1.conf).
class DbusDaemon {
public:
    explicit DbusDaemon(const std::string& dir, const std::string& ownerUser = "",
                        const std::vector<std::string>& extraPolicies = {});
    /// "unix:path=<dir>/bus", for DBUS_SYSTEM_BUS_ADDRESS.
    const std::string& address() const { return address_; }
    /// "DBUS_SYSTEM_BUS_ADDRESS=<address>", ready for SpawnOptions::env.
    std::string envEntry() const { return "DBUS_SYSTEM_BUS_ADDRESS=" + address_; }
    /// Waits (waitUntil's safety net) until `name` has an owner on this bus or `owner` has
    /// ended; true when the name is owned and owner still runs.
    bool waitForName(const std::string& name, Process& owner) const;

private:
    std::string address_;
    std::optional<Process> process_;
};

/// Uids and gids of the service users.
struct ServiceUsers {
    uid_t scheduler;         ///< fetchml
    uid_t worker;            ///< fetchml-worker
    uid_t https;             ///< fetchml-https
    gid_t group;             ///< group fetchml
    gid_t workerGid;         ///< fetchml-worker's primary group
    gid_t httpsGid;          ///< fetchml-https's primary group
    std::string workerHome;  ///< a home directory the worker owns (podman keeps storage there)
    /// XDG_RUNTIME_DIR for the worker's podman: always the same one (/tmp/fetchml-worker-run
    /// as root, as scripts/dev-stack uses), because podman records its run root in its
    /// database and misbehaves when it changes.
    std::string workerRuntimeDir;
    bool root;  ///< true if the test runs as root and dropped to real users
};

/// As root: creates the users of units/fetchml.sysusers with systemd-sysusers (idempotent)
/// and gives fetchml-worker a subuid/subgid range (usermod --add-subuids) if it has none;
/// its passwd home (/var/lib/fetchml-worker) is created. As another user: everything is that
/// user. Throws std::runtime_error with the command's output if a step fails.
ServiceUsers ensureServiceUsers();

/// Builds (once per build tree) the busybox root file system for image "rootfs:busybox"
/// with packaging/images/busybox/build and returns the directory that holds it (pass it as
/// worker.rootfs_dir).
std::string busyboxRootfsDir();

}  // namespace fetchml::test
