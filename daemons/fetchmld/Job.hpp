#pragma once
// Job: one job record as fetchmld stores it (table jobs) and returns it over D-Bus (GetJob).

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "JobState.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// A dataset version a job reads (docs/datasets.md): mounted read-only at
/// /workspace/data/<name>.
struct DataRef {
    std::string name;          ///< the dataset's name (isDatasetName, store/DatasetRef.hpp)
    std::int64_t version = 0;  ///< 1, 2, ...; 0 in a request = the latest version
    std::string tree;          ///< the version's tree id; "" in a request, filled on submission

    bool operator==(const DataRef&) const = default;
};

/// What a client asks to run (validated by Scheduler before it reaches JobStore).
struct JobSpec {
    std::string name;                           ///< optional label
    std::string user;                           ///< submitting user
    std::string commit;                         ///< commit id (hex SHA-256 of the manifest)
    std::vector<std::string> command;           ///< argv inside the container, non-empty
    std::string image;                          ///< podman image or rootfs:<name>
    std::int32_t priority = 0;                  ///< higher runs first
    std::map<std::string, std::string> params;  ///< FETCHML_PARAM_<NAME>=<value>
    std::int32_t maxRetries = 0;                ///< runs again after a failure, up to this
    std::vector<std::string> after;             ///< job ids that must have ended first (any state)
    std::vector<std::string> afterOk;           ///< job ids that must have succeeded first
    double cpus = 0;                            ///< CPUs it needs (0 = the default, 1)
    std::uint64_t memoryMib = 0;                ///< memory it needs, MiB (0 = not limited)
    std::uint32_t gpus = 0;                     ///< GPU devices it needs
    std::uint32_t maxRuntimeS = 0;  ///< stopped after this many seconds (0 = the default)
    std::vector<DataRef> data;      ///< datasets it reads, each name once
};

/// A stored job.
struct Job {
    std::int64_t seq = 0;  ///< submission sequence number (queue tie-break)
    std::string id;        ///< jobIdFromSeq(seq)
    JobSpec spec;
    JobState state = JobState::Queued;
    std::int32_t exitCode = 0;     ///< process exit code, or 128+signal
    std::string reason;            ///< why it ended (exited, cancelled, timeout, error, lost)
    std::int64_t submittedAt = 0;  ///< ms since the Unix epoch
    std::int64_t startedAt = 0;    ///< ms since the Unix epoch, 0 if not yet
    std::int64_t finishedAt = 0;   ///< ms since the Unix epoch, 0 if not yet
    std::string results;           ///< results tree id, "" until ingested
    std::map<std::string, double> metrics;  ///< last value of each metric
    std::int32_t attempt = 1;               ///< 1 for the first run, 2 for the first retry, ...
    std::int32_t effectivePriority = 0;     ///< priority plus aging (queue order)
    std::int64_t notBefore = 0;  ///< ms since the epoch; queued but not started before (0 = now)
    std::int64_t sweepSeq = 0;   ///< the sweep it was submitted in (sweepIdFromSeq), 0 = none
    /// GPU devices (CDI names) given to its latest attempt; empty before it starts and while
    /// a retry waits.
    std::vector<std::string> devices;
    // Several hosts (queue.backend redis; decisions.md "Several hosts: the shared queue"):
    /// True while the job is in the shared queue and not run by this host: submitted here and
    /// claimed by another host or by none yet (its state then mirrors the other host's), or
    /// a claim this host lost. Such a job is never dispatched here.
    bool shared = false;
    std::string claim;   ///< the shared-queue entry this host holds for it, "" = none
    std::string origin;  ///< host it was submitted on, "" = this one
    std::string host;    ///< host that runs or ran it, "" = this one
};

/// One row of job_events: a state transition.
struct JobEvent {
    std::int64_t at = 0;  ///< ms since the Unix epoch
    std::string from;     ///< "" for the submission
    std::string to;
    std::string reason;
};

/// A job's datasets as JSON, [{"name": s, "version": n, "tree": s}] (the jobs.data column and
/// the shared queue's payload).
nlohmann::json dataToJson(const std::vector<DataRef>& data);
/// Inverse of dataToJson; entries of the wrong shape are left out (nothing but fetchmld
/// writes this column).
std::vector<DataRef> dataFromJson(const nlohmann::json& json);
/// A spec without its dependencies as JSON: {"name", "user", "commit", "command", "image",
/// "priority", "params", "max_retries", "cpus", "memory_mib", "gpus", "max_runtime_s",
/// "data"} (the shared queue's entry payload and a pending sweep's template).
nlohmann::json specToJson(const JobSpec& spec);
/// Inverse of specToJson (after and after_ok stay empty). Errors: InvalidArgument "spec: ..."
/// naming what is missing or of the wrong type, or "spec: no command or no user".
Result<JobSpec> specFromJson(const nlohmann::json& json);
/// "NAME@VERSION" of each, in order (the job dictionary's "data").
std::vector<std::string> dataNames(const std::vector<DataRef>& data);
/// NAME to tree id of each (the job dictionary's "data_trees").
std::map<std::string, std::string> dataTrees(const std::vector<DataRef>& data);

/// Job id of a sequence number: "j" and at least 6 decimal digits ("j000042"), so ids are
/// short, unique per database and sort by submission up to a million jobs
/// (decisions.md "Job ids").
std::string jobIdFromSeq(std::int64_t seq);
/// Inverse of jobIdFromSeq; 0 when id is not a job id.
std::int64_t seqFromJobId(const std::string& id);
/// Sweep id of a sweep's sequence number: "s" and at least 6 digits ("s000007"); "" for 0.
std::string sweepIdFromSeq(std::int64_t seq);
/// Inverse of sweepIdFromSeq; 0 when id is not a sweep id.
std::int64_t seqFromSweepId(const std::string& id);

}  // namespace fetchml
