#pragma once
// WorkerDaemon: fetchml-workerd's run function (DESIGN.md §1): argv → settings → logging →
// podman environment → worker socket → READY=1 → sd-event loop → STOPPING=1.

#include <string>

#include "core/Config.hpp"
#include "core/Result.hpp"
#include "core/Settings.hpp"

namespace fetchml {

/// The program: parses argv (common/core/DaemonCli.hpp flags), runs until SIGTERM or
/// SIGINT, and returns the process exit code (0 after a clean stop, 1 on a start-up error).
int runWorker(int argc, char** argv);

/// The daemon once its settings are loaded.
class WorkerDaemon {
public:
    /// settings must have resolved paths (resolvePaths); options are kept to reload them on
    /// SIGHUP.
    WorkerDaemon(Settings settings, LoadOptions options);

    /// Sets up the podman environment and the socket, serves until stopped. Returns the exit
    /// code. SIGHUP reloads the configuration (log level and worker settings for new jobs;
    /// the socket and paths need a restart; a bad file keeps the old settings). On SIGTERM/SIGINT:
    /// stops accepting, sends SIGTERM to every job's container, kills what still runs after
    /// worker.cancel_grace_s, reports the exits, returns 0.
    int run();

    /// Makes sure podman finds its per-user state: HOME (from the password database when
    /// unset) and XDG_RUNTIME_DIR (when unset: <runtime_dir>/podman-<uid>, created 0700 and
    /// checked to be ours). Sets them in this process's environment, which podman inherits.
    /// Errors: Internal when the directory cannot be created or belongs to someone else.
    static Result<void> preparePodmanEnvironment(const PathSettings& paths);

private:
    Settings settings_;
    LoadOptions options_;
};

}  // namespace fetchml
