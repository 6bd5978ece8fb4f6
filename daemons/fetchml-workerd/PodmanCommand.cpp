#include "PodmanCommand.hpp"

#include "store/Sha256.hpp"

#include <cstdio>

namespace fetchml {
namespace {

std::string formatCpus(double cpus) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", cpus);
    return buf;
}

}  // namespace

std::string PodmanCommand::containerName(const RunSpec& job) {
    return "fetchml-" + job.id + "-" + Sha256::hashBuffer(job.runDir).substr(0, 8);
}

std::string PodmanCommand::envFilePath(const RunSpec& job) {
    return job.runDir + "/env";
}

std::string PodmanCommand::rootfsPath(const RunSpec& job, const WorkerSettings& worker) {
    if (job.image.rfind("rootfs:", 0) != 0) {
        return "";
    }
    return worker.rootfsDir + "/" + job.image.substr(7);
}

std::string PodmanCommand::envFileContent(const RunSpec& job) {
    std::string out;
    if (job.env.find("FETCHML_JOB_ID") == job.env.end()) {
        out += "FETCHML_JOB_ID=" + job.id + "\n";
    }
    for (const auto& [name, value] : job.env) {
        out += name + "=" + value + "\n";
    }
    return out;
}

std::vector<std::string> PodmanCommand::runArgs(const RunSpec& job, const WorkerSettings& worker) {
    std::uint32_t pids = job.pidsLimit != 0 ? job.pidsLimit : worker.pidsLimit;
    // One flag (and its value) per line: this list is the job's isolation.
    // clang-format off
    std::vector<std::string> args = {
        worker.podman, "run",
        "--rm",
        // A container of an earlier attempt of the job (left running when a worker died
        // without systemd to kill its cgroup) is stopped and removed first: one job, one
        // container, never two at once. The name is per job and run directory.
        "--replace",
        // The container's stdout and stderr are podman's own (the job's log file), not a
        // relay through conmon and the attach socket: nothing between the job and its log.
        "--log-driver", "passthrough",
        // Only images already in the worker's storage (podman-run(1) --pull): a job's image
        // name never makes the host contact a registry, and a missing one fails at once with
        // podman's "image not known".
        "--pull", "never",
        "--runtime", worker.runtime,
        "--network", "none",
        "--read-only",
        "--cap-drop", "all",
        "--security-opt", "no-new-privileges",
        "--pids-limit", std::to_string(pids),
    };
    if (job.cpus > 0) {
        args.insert(args.end(), {"--cpus", formatCpus(job.cpus)});
    }
    if (job.memoryMib > 0) {
        args.insert(args.end(), {"--memory", std::to_string(job.memoryMib) + "m"});
    }
    for (const auto& device : job.gpus) {
        // A CDI name (validated: never an option); podman applies the spec's edits.
        args.insert(args.end(), {"--device", device});
    }
    args.insert(args.end(), {
        "--label", "org.fetchml.job=" + job.id,
        "--name", containerName(job),
        "-v", job.runDir + "/code:/workspace/code:ro",
        "-v", job.runDir + "/results:/workspace/results:rw",
        "--workdir", "/workspace/code",
        "--env-file", envFilePath(job),
        "--tmpfs", "/tmp",
    });
    // clang-format on
    if (!job.data.empty()) {
        // fetchmld made <run>/data with an empty directory per dataset: the mount points, so
        // none has to be made inside the image or root file system. podman mounts parents first.
        args.insert(args.end(), {"-v", job.runDir + "/data:/workspace/data:ro"});
    }
    for (const auto& data : job.data) {
        args.insert(args.end(), {"-v", data.dir + ":/workspace/data/" + data.name + ":ro"});
    }
    auto rootfs = rootfsPath(job, worker);
    if (rootfs.empty()) {
        args.push_back(job.image);
    } else {
        args.insert(args.end(), {"--rootfs", rootfs});
    }
    args.insert(args.end(), job.command.begin(), job.command.end());
    return args;
}

std::vector<std::string> PodmanCommand::killArgs(const RunSpec& job, const WorkerSettings& worker,
                                                 const std::string& signal) {
    return {worker.podman, "kill", "--signal", signal, containerName(job)};
}

std::vector<std::string> PodmanCommand::removeArgs(const RunSpec& job,
                                                   const WorkerSettings& worker) {
    return {worker.podman, "rm", "--force", "--ignore", "--time", "0", containerName(job)};
}

}  // namespace fetchml
