#pragma once
// RunSpec: one job as fetchmld sends it in a "run" message (docs/architecture/decisions.md,
// "Worker socket"), validated so that nothing in it can become a podman option or a host path
// outside the run directories.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// A validated job.
/// A dataset version the job reads: fetchmld's checkout of it, mounted read-only at
/// /workspace/data/<name>.
struct DataMount {
    std::string
        name;         ///< isDatasetName (store/DatasetRef.hpp); the directory under /workspace/data
    std::string dir;  ///< absolute, normalized, under the runs root (<runs>/datasets/<tree>)
};

struct RunSpec {
    std::string id;                          ///< [A-Za-z0-9._-]+, at most 128 bytes
    std::string image;                       ///< podman image reference or "rootfs:<name>"
    std::vector<std::string> command;        ///< argv inside the container, not empty
    std::map<std::string, std::string> env;  ///< NAME -> value; no newlines in values
    std::string runDir;                      ///< absolute, normalized, under the runs root
    double cpus = 0;                         ///< --cpus; 0 = no limit
    std::uint64_t memoryMib = 0;             ///< --memory in MiB; 0 = no limit
    std::uint32_t pidsLimit = 0;             ///< --pids-limit; 0 = worker default
    std::uint64_t maxRuntimeS = 0;           ///< wall-clock limit in seconds; 0 = worker default
    std::vector<std::string> gpus;           ///< CDI device names, each passed as --device
    std::vector<DataMount> data;             ///< datasets, each mounted read-only
};

/// True for a non-empty name of [A-Za-z0-9._-] that is not "." or ".." (job ids, rootfs names).
bool isSafeName(const std::string& name);

/// Parses and validates the "job" object of a run message. runsRoot is
/// <paths.state_dir>/runs: run_dir must be an absolute path without "." or ".." components
/// strictly below it. Errors (InvalidArgument): a missing or mistyped field, an unsafe id,
/// an image starting with '-', a bad rootfs name, a bad env name (POSIX: [A-Za-z_][A-Za-z0-9_]*)
/// or a value with '\n', '\r' or NUL, negative limits, "gpus" not a list of CDI device names
/// (isCdiDeviceName) or naming one twice, "data" not a list of {"name", "dir"} with dataset
/// names (isDatasetName, each once) and dirs below runsRoot; the message names the field.
Result<RunSpec> parseRunSpec(const nlohmann::json& job, const std::string& runsRoot);

}  // namespace fetchml
