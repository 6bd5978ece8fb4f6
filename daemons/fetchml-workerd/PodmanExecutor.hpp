#pragma once
// PodmanExecutor: runs the jobs of this host, one `podman run` child per job, within the
// configured number of slots, and reports what happens to them as worker-socket messages
// (docs/architecture/decisions.md, "Worker socket": started, metric, exited).

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "JobProcess.hpp"
#include "core/Result.hpp"
#include "core/Settings.hpp"
#include "sys/SdEvent.hpp"

namespace fetchml {

/// Owner of all running jobs.
class PodmanExecutor : public JobProcess::Listener {
public:
    /// Receives every message for fetchmld (one JSON object, without the newline).
    using Emit = std::function<void(const nlohmann::json&)>;

    /// worker must have resolved paths (rootfs_dir); runsRoot is <state_dir>/runs, the only
    /// place run directories may be. Nothing runs before init().
    PodmanExecutor(sd_event* event, WorkerSettings worker, std::string runsRoot, Emit emit);
    ~PodmanExecutor() override;
    PodmanExecutor(const PodmanExecutor&) = delete;
    PodmanExecutor& operator=(const PodmanExecutor&) = delete;

    /// Creates the loop source that frees finished jobs. Errors: Internal (sd-event).
    Result<void> init();

    /// Handles a "run" message: validates the job (RunSpec), refuses it beyond capacity
    /// ("exited" with reason error and "no free slot"), with a GPU this worker does not offer
    /// or another job of it holds, or while stopping, else starts it and
    /// emits "started". A job that cannot be started is reported as "exited" reason error
    /// with exit_code -1 and the message; a message without a usable id gets "error".
    void run(const nlohmann::json& message);

    /// Handles "cancel": stops the job with reason cancelled (SIGTERM, then after
    /// worker.cancel_grace_s `podman kill --signal KILL` and SIGKILL to podman). Unknown ids
    /// get an "error" message.
    void cancel(const std::string& id);

    /// Takes new worker settings (SIGHUP) for jobs started from now on: slots, limits,
    /// runtime, grace period. rootfs_dir keeps its resolved value if the new one is empty.
    void updateSettings(WorkerSettings worker);

    /// Ids of the jobs whose podman is still running, sorted.
    std::vector<std::string> runningIds() const;

    /// {"slots":n,"cpus":n,"memory_mib":n,"gpus":[CDI names]}: slots from config; CPUs and
    /// memory (MiB) from config, else those online and the physical memory; GPU devices from
    /// config, else detected in the CDI specs of worker.cdi_spec_dirs (problems logged).
    nlohmann::json capacity() const;
    /// The GPU devices this worker offers (as capacity() reports them).
    std::vector<std::string> gpus() const;

    /// Stops all jobs (SIGTERM, kill after the grace period; reason error, "fetchml-workerd is
    /// stopping"), refuses new ones, and calls done once every job and helper has exited.
    void shutdown(std::function<void()> done);

    // JobProcess::Listener
    void jobMetric(JobProcess& job, std::int64_t step, const Metric& metric) override;
    void jobStopDue(JobProcess& job) override;
    void jobKillDue(JobProcess& job) override;
    void jobExited(JobProcess& job, int exitCode, int signal) override;

private:
    /// Why a job's GPUs cannot be given to it ("" when they can): not offered, or held by
    /// another running job.
    std::string gpuProblem(const RunSpec& spec) const;

    struct Helper {
        std::string jobId;
        bool killsJob = false;  // podman kill: SIGKILL podman run when it is done
        SdEventSourcePtr source;
    };

    void emitExited(const std::string& id, int exitCode, int signal, const std::string& reason,
                    const std::string& message);
    void spawnHelper(const std::vector<std::string>& argv, const std::string& jobId, bool killsJob);
    void scheduleReap();
    void checkDone();
    static int onReap(sd_event_source* s, void* userdata);
    static int onHelperExit(sd_event_source* s, const siginfo_t* info, void* userdata);

    sd_event* event_;
    WorkerSettings worker_;
    std::string runsRoot_;
    Emit emit_;
    std::map<std::string, std::unique_ptr<JobProcess>> jobs_;
    std::map<pid_t, Helper> helpers_;
    // Finished jobs and helper sources are freed from a defer source, never inside their own
    // child callback (sd-event reaps the child after that callback returns).
    std::vector<std::unique_ptr<JobProcess>> deadJobs_;
    std::vector<SdEventSourcePtr> deadSources_;
    SdEventSourcePtr reapSource_;
    bool stopping_ = false;
    std::function<void()> done_;
};

}  // namespace fetchml
