#include "ChildSpawn.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

extern char** environ;

namespace fetchml {
namespace {

bool isWorkerOnly(const char* entry) {
    for (const char* prefix : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=",
                               "LISTEN_PID=", "LISTEN_FDNAMES="}) {
        if (std::strncmp(entry, prefix, std::strlen(prefix)) == 0) {
            return true;
        }
    }
    return false;
}

// posix_spawn_file_actions_t and posix_spawnattr_t need destroy calls on every path.
struct SpawnState {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnState() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnState() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnState(const SpawnState&) = delete;
    SpawnState& operator=(const SpawnState&) = delete;
};

}  // namespace

std::vector<std::string> childEnvironment() {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (!isWorkerOnly(*e)) {
            env.emplace_back(*e);
        }
    }
    return env;
}

Result<pid_t> spawnChild(const std::vector<std::string>& argv, const ChildIo& io,
                         const std::vector<std::string>& env) {
    SpawnState st;
    posix_spawn_file_actions_addopen(&st.actions, 0, "/dev/null", O_RDONLY, 0);
    for (auto [fd, target] : {std::pair{io.stdoutFd, 1}, std::pair{io.stderrFd, 2}}) {
        if (fd >= 0) {
            posix_spawn_file_actions_adddup2(&st.actions, fd, target);
        } else {
            posix_spawn_file_actions_addopen(&st.actions, target, "/dev/null", O_WRONLY, 0);
        }
    }
    sigset_t empty;
    sigset_t all;
    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&st.attr, &empty);
    posix_spawnattr_setsigdefault(&st.attr, &all);
    posix_spawnattr_setpgroup(&st.attr, 0);
    posix_spawnattr_setflags(
        &st.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::vector<char*> cargv;
    for (const auto& a : argv) {
        cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    std::vector<char*> cenv;
    for (const auto& e : env) {
        cenv.push_back(const_cast<char*>(e.c_str()));
    }
    cenv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, cargv[0], &st.actions, &st.attr, cargv.data(), cenv.data());
    if (rc != 0) {
        return makeError(ErrorCode::Internal, "cannot start " + argv[0] + ": " + std::strerror(rc));
    }
    return pid;
}

}  // namespace fetchml
