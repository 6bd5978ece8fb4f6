#pragma once
// PodmanCommand: the podman command lines of the worker (podman-run(1), podman-kill(1)), as
// pure functions of the job and the worker settings so the isolation flags are unit-tested.

#include <string>
#include <vector>

#include "RunSpec.hpp"
#include "core/Settings.hpp"

namespace fetchml {

/// Builders for podman argv vectors. argv[0] is worker.podman.
class PodmanCommand {
public:
    /// Container name of a job: "fetchml-<id>-<first 8 hex digits of SHA-256(run_dir)>".
    /// Job ids are unique per fetchmld only; the run directory's hash keeps two stacks that
    /// share one worker user's podman storage (tests, a development stack beside a service)
    /// from ever touching each other's containers.
    static std::string containerName(const RunSpec& job);

    /// Path of the job's env file: <run_dir>/env (written 0600 by the worker, removed at exit).
    static std::string envFilePath(const RunSpec& job);

    /// Host directory of a "rootfs:<name>" image: <worker.rootfs_dir>/<name>; "" for an
    /// ordinary image reference. worker.rootfs_dir must already be resolved (resolvePaths).
    static std::string rootfsPath(const RunSpec& job, const WorkerSettings& worker);

    /// Content of the env file (podman-run(1) --env-file: one NAME=value per line). The job's
    /// env plus FETCHML_JOB_ID unless the job sets it. Values never contain newlines
    /// (parseRunSpec refuses them).
    static std::string envFileContent(const RunSpec& job);

    /// `podman run` for a job: --rm, --runtime, --network none, --read-only, --cap-drop all,
    /// --security-opt no-new-privileges, --pids-limit, --cpus/--memory when asked, one
    /// --device per GPU (a CDI name, resolved by podman from the CDI specs), the
    /// org.fetchml.job label, --name fetchml-<id>, code (ro) and results (rw) mounts,
    /// --workdir /workspace/code, --env-file (values are never in argv), --tmpfs /tmp, with
    /// datasets <run>/data read-only at /workspace/data and one read-only mount per dataset at
    /// /workspace/data/<name>, then the image (or --rootfs <dir>) and the command.
    static std::vector<std::string> runArgs(const RunSpec& job, const WorkerSettings& worker);

    /// `podman kill --signal <signal> fetchml-<id>`; signal is a name podman knows ("TERM",
    /// "KILL"). The signal goes to the container's PID 1 through the OCI runtime.
    static std::vector<std::string> killArgs(const RunSpec& job, const WorkerSettings& worker,
                                             const std::string& signal);

    /// `podman rm --force --ignore --time 0 fetchml-<id>`: removes a container left behind
    /// when podman run itself was killed (e.g. SIGTERM before it forwarded signals).
    static std::vector<std::string> removeArgs(const RunSpec& job, const WorkerSettings& worker);
};

}  // namespace fetchml
