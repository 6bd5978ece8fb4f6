#pragma once
// Scheduler: the job queue and life cycle. Validates submissions, hands the next queued job
// (priority, then submission order) to the worker when it has a free slot, follows the
// worker's started/metric/exited messages, ingests results into the store and reports every
// state change. Runs on the daemon's event loop; the worker link and the bus are callbacks.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "Authenticator.hpp"
#include "DatasetCheckouts.hpp"
#include "Job.hpp"
#include "JobStore.hpp"
#include "Placement.hpp"
#include "SweepPlan.hpp"
#include "core/Result.hpp"
#include "store/BlobStore.hpp"

namespace fetchml {

/// Limits and defaults the scheduler applies.
struct SchedulerOptions {
    std::string runsDir;       ///< <state_dir>/runs
    std::string defaultImage;  ///< used when a submission names no image
    std::uint32_t pidsLimit = 512;
    /// A job's maximum run time when it asks for none, and the most it may ask for, seconds
    /// (worker.max_runtime_s).
    std::uint32_t maxRuntimeS = 86400;
    /// First retry's delay, seconds; doubles with each further attempt, at most 64 times it
    /// (scheduler.retry_delay_s).
    std::uint32_t retryDelayS = 10;
    /// Most starting or running jobs of one user at a time; 0 = no limit
    /// (scheduler.max_running_per_user).
    std::uint32_t maxRunningPerUser = 0;
    /// CPUs of a job that asks for none (scheduler.default_cpus).
    double defaultCpus = 1;
    /// Queued jobs placement looks at in one pass, in queue order: the first that does not
    /// fit gets a reserved start, the others may backfill (scheduler.backfill_depth).
    std::uint32_t backfillDepth = 100;
};

/// What the worker reported when a job ended (decisions.md "Worker socket", exited).
struct ExitReport {
    std::int32_t exitCode = 0;
    std::int32_t signal = 0;
    std::string reason;   ///< exited | cancelled | timeout | error
    std::string message;  ///< for reason error
};

/// What cancelling a sweep did.
struct SweepCancel {
    std::vector<std::string> cancelled;  ///< queued or held jobs, cancelled at once
    std::vector<std::string> stopping;   ///< starting or running jobs the worker was asked to stop
    std::vector<std::string> unreachable;  ///< running jobs not asked: the worker is not connected
};

/// Several hosts (queue.backend redis): what the scheduler asks of the shared queue
/// (SharedQueue provides it; decisions.md "Several hosts: the shared queue").
struct SharedQueueHooks {
    /// A job sequence number unique across the hosts.
    std::function<Result<std::int64_t>()> nextSeq;
    /// Puts a queued job into the shared queue (before its record is written).
    std::function<Result<void>(const std::string& id, const JobSpec& spec)> publish;
    /// Asks whichever host holds the job to cancel it.
    std::function<Result<void>(const std::string& id)> requestCancel;
};

/// Queue and job life cycle.
class Scheduler {
public:
    /// Sends one message to the worker; false when it is not connected.
    using WorkerSend = std::function<bool(const nlohmann::json& message)>;
    /// Called after every state change with the job as stored.
    using JobChanged = std::function<void(const Job& job)>;

    /// Lowest and highest accepted priority.
    static constexpr std::int32_t kMinPriority = -1000;
    static constexpr std::int32_t kMaxPriority = 1000;
    /// Most retries a job may ask for.
    static constexpr std::int32_t kMaxRetries = 10;
    /// Most dependencies (after + after_ok) of one job.
    static constexpr std::size_t kMaxDependencies = 64;
    /// Most CPUs, memory (MiB) and GPUs one job may ask for.
    static constexpr double kMaxCpus = 1024;
    static constexpr std::uint64_t kMaxMemoryMib = 64ull << 20;
    static constexpr std::uint32_t kMaxGpus = 64;
    /// Called with a time (ms since the epoch) at which dispatch() should run again: a retry's
    /// backoff ends then.
    using Wakeup = std::function<void(std::int64_t atMs)>;

    /// The delay before attempt `attempt` + 1 after attempt `attempt` failed, ms:
    /// retryDelayS * 2^(attempt-1), at most retryDelayS * 64 (exponential backoff).
    static std::int64_t retryDelayMs(std::uint32_t retryDelayS, std::int32_t attempt);

    Scheduler(JobStore& jobs, BlobStore& store, SchedulerOptions options, JobChanged changed)
        : jobs_(jobs),
          store_(store),
          options_(std::move(options)),
          changed_(std::move(changed)),
          checkouts_(options_.runsDir, store_) {}

    /// Sets how messages reach the worker.
    void setWorkerSend(WorkerSend send) { send_ = std::move(send); }
    /// Sets what to call when a retry becomes due later (the daemon arms a timer).
    void setWakeup(Wakeup wakeup) { wakeup_ = std::move(wakeup); }
    /// Sets what to call when a job waits for the worker but it is not connected: the worker
    /// is socket-activated (fetchml-workerd.socket), so fetchmld connects only when it has
    /// work for it, and systemd starts fetchml-workerd on the first job.
    void setWorkerWanted(std::function<void()> wanted) { wanted_ = std::move(wanted); }
    /// Shares the queue with other hosts: from now on submissions get their ids from it and
    /// wait in it (shared) until a host claims them; only claimed jobs are dispatched here.
    void setShared(SharedQueueHooks hooks) { shared_ = std::move(hooks); }
    /// How many more jobs this host could start now: free worker slots less the claimed jobs
    /// already waiting here (1 when the worker is not connected and none waits: claiming one
    /// starts it).
    std::uint32_t room();
    /// A job placement found too big for this worker (it stays queued here).
    bool tooBig(const std::string& id) const { return tooBig_.count(id) != 0; }
    /// This host lost the claim of a job to `host`: stops it here if it runs (cancel to the
    /// worker; its exit report is then ignored), marks it shared and announces it.
    void yieldClaim(const std::string& id, const std::string& host);
    /// A job submitted here changed on another host (JobStore::mirror): announces it and, when
    /// it ended, releases the jobs that wait for it.
    void mirrored(const Job& job);
    /// True when a job is queued, starting or running: the worker is needed. A database
    /// error counts as true (better an idle connection than a job never started).
    bool hasWork();

    /// True for parameter names [A-Za-z_][A-Za-z0-9_]* of at most 64 characters.
    static bool isValidParamName(const std::string& name);
    /// Checks a submission; InvalidArgument naming the field ("command: must not be empty",
    /// "commit: <id> is not a known commit", "params.<name>: ...", "priority: ...",
    /// "after: job <id> does not exist", "cpus: ...", "max_runtime_s: at most ...").
    Result<void> validate(const JobSpec& spec);
    /// Fills the default image, validates, then fills the default CPUs and maximum run time:
    /// the spec as submit() and submitBatch() store it. Errors: as validate().
    Result<JobSpec> prepare(JobSpec spec);
    /// Validates, fills the default image, CPUs and maximum run time, stores the job
    /// (committed before returning) and
    /// tries to dispatch. Returns the job as queued, or held while it waits for its
    /// dependencies (or already failed when one can never be met).
    Result<Job> submit(JobSpec spec);
    /// True when submitBatch() may be used: one host (with a shared queue every submission
    /// takes its id from the queue and is published before its record, one by one).
    bool batchesSubmissions() const { return !shared_.has_value(); }
    /// Group commit: stores jobs whose specs came from prepare() in ONE transaction (one
    /// fdatasync for all), then announces each and resolves held ones as submit() does. The
    /// caller runs dispatch() once it has answered the submitters, so an answer never waits
    /// for a job to start. Returns the jobs in the order of `specs`. Errors: SQLite's (then
    /// none is stored); Internal when the queue is shared (see batchesSubmissions()).
    Result<std::vector<Job>> submitBatch(const std::vector<JobSpec>& specs);
    /// A sweep: `templ` (its params are the fixed parameters) once for every combination of
    /// the axes (expandSweep, at most kMaxSweepJobs), validated once. Dependencies, retries
    /// and priority of templ apply to every job: queued when they are met, else held.
    /// One host (decisions.md "Sweeps: one record, expanded after the answer"): accepted as
    /// ONE durable row with its job ids reserved (JobStore::reserveSweep) and returned without
    /// jobs (firstSeq, size and state say what they will be); the jobs are stored, announced
    /// and dispatched by expandPendingSweeps(), which the daemon runs right after the answer
    /// (setSweepPending) and every bus call runs first. Without setSweepPending, and with a
    /// shared queue, the jobs are stored at once and returned with the sweep.
    /// Errors: InvalidArgument naming the field (validate, expandSweep); SQLite errors.
    Result<SweepRecord> submitSweep(JobSpec templ, const std::vector<SweepAxis>& axes);
    /// Sets what to call when a sweep has been accepted but not expanded: the daemon arms a
    /// defer source that runs expandPendingSweeps() once the answer is sent.
    void setSweepPending(std::function<void()> pending) { sweepPending_ = std::move(pending); }
    /// Expands every accepted sweep not expanded yet (at the first call, those the database
    /// holds from before a restart): stores its jobs with their reserved ids in one
    /// transaction, announces them, resolves held ones, then one dispatch pass. Costs a flag
    /// test when there is none. A sweep the database refuses to expand stays pending (logged)
    /// and is tried again at the next call. Never throws.
    void expandPendingSweeps();
    /// True while an accepted sweep may still lack its jobs (an expansion failed, or none ran
    /// since the start): the daemon tries again after a while.
    bool sweepsPending() const { return sweepsPending_; }
    /// Cancels a sweep: its queued and held jobs at once (one transaction), its starting and
    /// running ones by asking the worker, as cancel() does. Finished jobs stay as they are.
    /// The caller's permission is checked before (SchedulerBus).
    Result<SweepCancel> cancelSweep(const SweepRecord& sweep);
    /// Cancels a job: a queued one at once; a starting or running one by asking the worker
    /// (it becomes cancelled when the worker reports it exited). The caller's permission is
    /// checked before (SchedulerBus). Errors: NotFound, InvalidArgument when it is finished,
    /// Busy when it runs but the worker is not connected.
    Result<Job> cancel(const std::string& id);

    /// The worker said hello: its capacity, the jobs it still runs, and the jobs that ended
    /// but whose `exited` it has not had acknowledged (it sends those next). Jobs we think
    /// start or run but it lists in neither are lost: failed with reason "lost", or retried
    /// while they have retries left; listed starting jobs are running and keep the devices
    /// they were given.
    void workerConnected(const WorkerCapacity& capacity, const std::vector<std::string>& running,
                         const std::vector<std::string>& finished = {});
    /// The connection to the worker is gone; nothing is dispatched until it is back.
    void workerDisconnected();
    /// The worker started a job's container.
    void jobStarted(const std::string& id);
    /// A metric step of a running job.
    void jobMetric(const std::string& id, std::int64_t step,
                   const std::map<std::string, double>& values);
    /// A job ended: exit 0 → succeeded, non-zero → failed (or queued again while it has
    /// retries left, after a backoff), reason cancelled → cancelled; its results directory is
    /// ingested into the store and recorded. Returns true when the end
    /// is durably recorded now or was before (a repeated report, an unknown job): the worker
    /// may forget it (`ack`); false when the database refused it (the worker reports again).
    bool jobExited(const std::string& id, const ExitReport& report);

    /// Starts the queued jobs that fit in what the worker has free (Placement: queue order,
    /// EASY backfill behind the first job that must wait), giving GPU jobs their devices.
    void dispatch();
    /// Why a queued job has not started, as of the last dispatch.
    struct Waiting {
        std::string reason;     ///< "" when the job is not queued
        std::int64_t atMs = 0;  ///< ms since the epoch: when the backoff ends / reserved start
    };
    /// "retry backoff" (until atMs); "no worker connected (it is started on demand)"; "more
    /// than the worker has (<capacity>): it cannot start there"; "resources: reserved start"
    /// (by atMs, if running jobs run to their maximum run time); else "its turn: other jobs go
    /// first, or there is no room yet".
    Waiting waiting(const Job& job) const;
    /// The reserved start of the first queued job that waits for resources, as of the last
    /// dispatch; nullopt when none waits (or no worker is connected).
    const std::optional<Reservation>& reservation() const { return reservation_; }
    /// Aging (called every scheduler.aging_interval_s): each queued job gains one effective
    /// priority point, up to kMaxPriority, so a low-priority job is not starved by a stream
    /// of higher ones (it passes priority P after P aging intervals).
    void age();

    /// The `run` message for a job (decisions.md "Worker socket"): its cpus, memory_mib,
    /// max_runtime_s, gpus (the CDI device names `devices`), and the environment
    /// FETCHML_JOB_ID, FETCHML_ATTEMPT (1, 2, ... on retries), FETCHML_PARAMS (JSON object),
    /// FETCHML_PARAM_<name> (name as given) and, for GPU jobs, FETCHML_GPUS (the device
    /// names, comma-separated).
    nlohmann::json runMessage(const Job& job, const std::vector<std::string>& devices = {}) const;
    /// <runsDir>/<id>.
    std::string runDir(const std::string& id) const { return options_.runsDir + "/" + id; }

private:
    /// Expands one accepted sweep from its plan (reserveSweep's JSON), announces its jobs and
    /// resolves them when their dependencies can never be met. Errors: the plan's or SQLite's.
    Result<SweepRecord> expandSweepPlan(const SweepRecord& pending, const std::string& plan);
    /// After a job's record is committed: logs it, announces it, and resolves it at once when
    /// it is held (its dependencies may have ended already); `job` becomes the job as it is now.
    void submitted(Job& job);
    Result<void> prepareRunDir(const Job& job);
    void ingestResults(const std::string& id);
    /// Records a transition and announces it; false (logged) when it was refused.
    bool changeState(const std::string& id, JobState to, const TransitionFields& fields);
    /// A failed attempt: queued again after its backoff while the job has retries left
    /// (never for a cancel), else failed. False when the database refused it.
    bool failOrRetry(const std::string& id, std::int32_t exitCode, const std::string& reason);
    /// Tells wakeup_ when the earliest waiting retry is due (none: nothing).
    void armWakeup();
    /// How dependencies stand: Met (each has ended, or succeeded for after_ok), Never (an
    /// after_ok one ended otherwise or no longer exists; `why` says which) or Waiting.
    enum class DepsVerdict { Met, Waiting, Never };
    static DepsVerdict judgeDependencies(const std::vector<Dependency>& deps, std::string& why);
    /// Announces the jobs of a stored sweep; with verdict Never, fails each (resolveHeld) and
    /// updates it in `sweep`.
    void announceSweep(SweepRecord& sweep, DepsVerdict verdict);
    /// A held job: queued when every dependency has ended (after) or succeeded (after_ok),
    /// failed when an after_ok dependency ended otherwise or no longer exists, else held.
    void resolveHeld(const std::string& id);
    /// Job id ended: resolves the held jobs that wait for it.
    void releaseDependents(const std::string& id);
    /// What a job asks for, as placement counts it.
    ResourceRequest requestOf(const Job& job) const;
    /// How start() went.
    enum class StartResult {
        Started,  ///< sent to the worker
        Failed,   ///< failed before the worker got it (its run directory); resources free
        Stop,     ///< the database refused or the worker went away: stop dispatching
    };
    /// Starts one placed job: starting (with its devices), run directory, `run` message.
    StartResult start(const Job& job, const std::vector<std::string>& devices);

    JobStore& jobs_;
    BlobStore& store_;
    SchedulerOptions options_;
    JobChanged changed_;
    DatasetCheckouts checkouts_;  // the jobs' datasets, one read-only copy per version
    WorkerSend send_;
    std::function<void()> wanted_;
    Wakeup wakeup_;
    bool connected_ = false;
    WorkerCapacity capacity_;
    std::map<std::string, Allocation> active_;  // jobs handed to the worker, not yet exited
    std::optional<Reservation> reservation_;
    std::set<std::string> tooBig_;  // queued jobs warned about as never fitting this worker
    std::optional<SharedQueueHooks> shared_;  // set when several hosts share the queue
    std::function<void()> sweepPending_;
    bool sweepsPending_ = true;  // the database may hold accepted sweeps not expanded yet
};

}  // namespace fetchml
