#pragma once
// spawnChild: starts a helper program (podman) with posix_spawn(3) so that it starts with a
// clean signal state although the worker blocks SIGCHLD, SIGTERM and SIGINT for sd-event.

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// Standard streams and environment of a child.
struct ChildIo {
    int stdoutFd = -1;  ///< becomes fd 1; -1 = /dev/null
    int stderrFd = -1;  ///< becomes fd 2; -1 = /dev/null
};

/// The worker's environment minus what belongs to it and not to podman (NOTIFY_SOCKET,
/// WATCHDOG_*, LISTEN_*): podman would otherwise talk to systemd on the worker's behalf.
std::vector<std::string> childEnvironment();

/// Starts argv (argv[0] looked up in PATH) with stdin on /dev/null, io's fds on 1 and 2, the
/// given environment, an empty signal mask, default signal dispositions and its own process
/// group (so a terminal's ^C reaches only the worker, which decides what to stop).
/// Errors: Internal with strerror when posix_spawn fails (including exec failure).
Result<pid_t> spawnChild(const std::vector<std::string>& argv, const ChildIo& io,
                         const std::vector<std::string>& env);

}  // namespace fetchml
