#pragma once
// JobStore: jobs, their state transitions (job_events: one row per transition), metrics and
// commits in fetchmld's SQLite database. Every write is one transaction that has committed
// before the call returns.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "Database.hpp"
#include "Job.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Milliseconds since the Unix epoch; injectable so tests need no real clock.
using MsClock = std::function<std::int64_t()>;

/// The real wall clock in ms since the epoch.
std::int64_t wallClockMs();

/// Optional fields written with a state transition.
struct TransitionFields {
    std::optional<std::int32_t> exitCode;
    std::string reason;
};

/// One dependency of a job, with the state its job is in now.
struct Dependency {
    std::string id;                 ///< the job waited for
    bool okOnly = false;            ///< after_ok (must succeed) rather than after (must end)
    std::optional<JobState> state;  ///< nullopt when that job no longer exists (pruned)
};

/// A sweep: jobs submitted together, one per parameter combination (table sweeps).
struct SweepRecord {
    std::int64_t seq = 0;
    std::string id;              ///< sweepIdFromSeq(seq)
    std::string user;            ///< who submitted it
    std::int64_t size = 0;       ///< jobs created with it (pruning may remove some later)
    std::int64_t createdAt = 0;  ///< ms since the Unix epoch
    /// Seq of its first job when its seqs were reserved together (reserveSweep): its jobs
    /// are firstSeq .. firstSeq + size - 1. 0 for a sweep stored with its jobs at once.
    std::int64_t firstSeq = 0;
    /// The state its jobs were stored in (queued, or held for their dependencies); from
    /// submitSweep/expandSweep, and from Scheduler::submitSweep the state they will have.
    JobState state = JobState::Queued;
    std::vector<Job> jobs;  ///< as stored, from submitSweep/expandSweep only
};

/// Job and commit records. Expects a database migrated with schedulerMigrations().
class JobStore {
public:
    explicit JobStore(Database& db, MsClock clock = wallClockMs)
        : db_(db), clock_(std::move(clock)) {}

    /// Inserts a job and its first event ("" → queued), or held with its dependencies
    /// (spec.after, spec.afterOk; existing ids, checked by the caller) in one transaction.
    /// `seq` > 0: the job's id comes from the shared queue (JobQueue::nextJobSeq), and
    /// `shared` marks it as waiting in that queue rather than here. Returns the stored job.
    /// Errors: Busy/Internal from SQLite (a taken seq: Internal).
    Result<Job> submit(const JobSpec& spec, std::int64_t seq = 0, bool shared = false);
    /// Group commit: inserts every job of `specs` (one host: ids from the rowid), each with
    /// its first event as submit() does, in ONE transaction, so the whole batch costs one
    /// commit (one fdatasync). Returns the jobs as stored, in the order of `specs`; they are
    /// read back inside the transaction, so either every job is stored and returned or none
    /// is stored. Errors: Busy/Internal from SQLite (then nothing is stored).
    Result<std::vector<Job>> submitMany(const std::vector<JobSpec>& specs);
    /// Inserts a sweep and all its jobs (one per spec, in order, all in state `initial` with
    /// `reason` on their first event: queued, or held with the specs' dependencies) in ONE
    /// transaction. Returns the sweep with its jobs as stored. Errors: InvalidArgument for no
    /// specs; Busy/Internal from SQLite (then nothing is stored). `seqs`, when not empty,
    /// gives each job its id from the shared queue (one per spec) and marks them shared.
    Result<SweepRecord> submitSweep(const std::vector<JobSpec>& specs, JobState initial,
                                    const std::string& reason = "",
                                    const std::vector<std::int64_t>& seqs = {});
    /// Accepts a sweep as ONE row, before any of its jobs exists (decisions.md "Sweeps: one
    /// record, expanded after the answer"): the sweep of `user` with `plan` (what expanding it
    /// needs, JSON text, never empty) pending, and `size` job seqs reserved for it,
    /// consecutive from the returned record's firstSeq (the jobs table's AUTOINCREMENT
    /// counter is raised past them), in one transaction. Errors: InvalidArgument for size < 1
    /// or an empty plan; Busy/Internal from SQLite (then nothing is stored).
    Result<SweepRecord> reserveSweep(const std::string& user, std::int64_t size,
                                     const std::string& plan);
    /// The sweeps reserveSweep accepted and expandSweep has not expanded yet, oldest first,
    /// each with its plan (index sweeps_pending).
    Result<std::vector<std::pair<SweepRecord, std::string>>> pendingSweeps();
    /// Expands a pending sweep: inserts its jobs (specs[i] gets seq firstSeq + i; state
    /// `initial` with `reason` on its first event; submitted at the sweep's createdAt) and
    /// clears its plan, in ONE transaction. Returns the sweep with its jobs as stored.
    /// Errors: InvalidArgument when specs.size() is not the sweep's size; NotFound when the
    /// sweep is not pending (expanded already); Busy/Internal from SQLite (then nothing
    /// changes and the sweep stays pending).
    Result<SweepRecord> expandSweep(const SweepRecord& sweep, const std::vector<JobSpec>& specs,
                                    JobState initial, const std::string& reason = "");
    /// The sweep with id "s000001" (without its jobs). Errors: NotFound "sweep <id> does not
    /// exist".
    Result<SweepRecord> sweep(const std::string& id);
    /// Id and state of every job of a sweep, oldest first (index jobs_sweep).
    Result<std::vector<std::pair<std::string, JobState>>> sweepMembers(std::int64_t sweepSeq);
    /// Cancels every queued or held job of a sweep in one transaction (one event each, reason
    /// "cancelled"). Returns the ids cancelled, oldest first.
    Result<std::vector<std::string>> cancelWaiting(std::int64_t sweepSeq);
    /// One job with its latest metrics and its dependencies. Errors: NotFound "job <id> does
    /// not exist".
    Result<Job> get(const std::string& id);
    /// Jobs newest first, optionally only those in `state` and/or of `user` ("" = every
    /// user) and/or of sweep `sweepSeq` (0 = any) and older than job `before` ("" = from the
    /// newest; the next page starts before the last id of this one), at most `limit`. Index
    /// walks (jobs_state, jobs_user, jobs_sweep, the primary key): the cost does not grow
    /// with the number of jobs.
    Result<std::vector<Job>> list(std::optional<JobState> state, std::uint32_t limit,
                                  const std::string& user = "", const std::string& before = "",
                                  std::int64_t sweepSeq = 0);
    /// Jobs in any of the given states, oldest first (for reconciliation).
    Result<std::vector<Job>> inStates(const std::vector<JobState>& states);
    /// The next job to run: queued and due (not_before <= now), of a user with fewer than
    /// maxRunningPerUser starting or running jobs (0 = no limit), highest effective priority
    /// (priority plus aging), then earliest submitted (index jobs_queue).
    Result<std::optional<Job>> nextQueued(std::uint32_t maxRunningPerUser = 0);
    /// The first `limit` jobs nextQueued would return one after the other, in that order (the
    /// jobs placement considers, backfill included): one index walk of at most `limit` rows.
    Result<std::vector<Job>> queuedCandidates(std::uint32_t limit,
                                              std::uint32_t maxRunningPerUser = 0);
    /// The store's clock now, ms since the epoch.
    std::int64_t now() const { return clock_(); }
    /// Aging: one more effective priority point for every queued job below maxPriority (one
    /// UPDATE over the queued jobs, in a transaction). Returns how many changed.
    Result<std::int64_t> age(std::int32_t maxPriority);
    /// The earliest not_before in the future among queued jobs (ms since the epoch), if any:
    /// when the next retry becomes due.
    Result<std::optional<std::int64_t>> nextNotBefore();
    /// Queues a starting, running or lost job again for another attempt: attempt + 1, not
    /// before now + delayMs, exit code and reason of the failed attempt kept on the job and in
    /// its event, its devices released (one transaction). Errors: NotFound; InvalidArgument when
    /// the job is in another state.
    Result<Job> retry(const std::string& id, std::int32_t exitCode, const std::string& reason,
                      std::int64_t delayMs);
    /// Moves a job to `to`, recording an event; sets started_at when it enters running (or
    /// starting, if not yet set) and finished_at when it becomes terminal, and the GPU devices
    /// (CDI names) given to the job when `devices` is set (as it starts).
    /// Errors: NotFound; InvalidArgument "job <id> cannot go from <a> to <b>".
    Result<Job> transition(const std::string& id, JobState to, const TransitionFields& fields,
                           const std::optional<std::vector<std::string>>& devices = std::nullopt);
    /// The dependencies of job seq with their jobs' current states (index: primary key).
    Result<std::vector<Dependency>> dependencies(std::int64_t seq);
    /// Held jobs that depend on job id (index job_deps_dep).
    Result<std::vector<std::string>> heldDependents(const std::string& id);
    /// The job's transitions, oldest first. Errors: NotFound.
    Result<std::vector<JobEvent>> events(const std::string& id);
    /// Records the results tree id of a job. Errors: NotFound.
    Result<void> setResults(const std::string& id, const std::string& resultsTreeId);
    /// Stores the values of one metric step. Errors: NotFound.
    Result<void> addMetrics(const std::string& id, std::int64_t step,
                            const std::map<std::string, double>& values);

    // Several hosts (JobStoreShared.cpp; decisions.md "Several hosts: the shared queue").

    /// This host claimed shared-queue entry `claim` for job `seq`: an existing record becomes
    /// ours to run (shared = 0, host = ""; a record that mirrored a run elsewhere is queued
    /// again as a new attempt, at least `attempt`, its start and end times cleared), else a
    /// record is made from `spec` with that seq, queued, origin `origin`, attempt `attempt`
    /// (the entry's deliveries: a job its earlier host lost starts as attempt 2). One
    /// transaction. Returns the job.
    Result<Job> adopt(std::int64_t seq, const JobSpec& spec, const std::string& claim,
                      const std::string& origin, std::int32_t attempt = 1);
    /// Jobs this host holds a shared-queue claim for, oldest first (index jobs_claim).
    Result<std::vector<Job>> claimed();
    /// Forgets the claim of a job (its entry was completed). Errors: NotFound.
    Result<void> clearClaim(const std::string& id);
    /// This host lost the claim of a job (another host reclaimed it): shared again, queued,
    /// host `host`, devices released, an event with `reason`. Errors: NotFound.
    Result<Job> yieldClaim(const std::string& id, const std::string& host,
                           const std::string& reason);
    /// What another host reported about a job submitted here (shared = 1 only): state,
    /// exit code, reason, host, attempt, start and end times (ms since the epoch, 0 = keep),
    /// results tree id; an event when the state changed. nullopt when the job is not here or
    /// not shared (this host runs it).
    Result<std::optional<Job>> mirror(const std::string& id, JobState state, std::int32_t exitCode,
                                      const std::string& reason, const std::string& host,
                                      std::int32_t attempt, std::int64_t startedAt,
                                      std::int64_t finishedAt, const std::string& results);
    /// The highest job seq used or reserved in this database: the jobs' rows, the
    /// AUTOINCREMENT counter (ids of pruned jobs) and the ranges of sweeps not expanded yet (0
    /// when there is none). Where a new sweep's range and a shared queue's ids start.
    Result<std::int64_t> maxSeq();
    /// Queued jobs this host may dispatch (shared = 0): how many (index jobs_queue).
    Result<std::int64_t> dispatchableCount();
    /// A value of table shared_state ("" when unset) and setting it.
    Result<std::string> sharedValue(const std::string& key);
    Result<void> setSharedValue(const std::string& key, const std::string& value);

    /// Records a manifest under its id (kind "commit" or "results"); idempotent, except that
    /// recording a known tree again sets its created_at to now (its garbage-collection grace
    /// period starts again).
    Result<void> putCommit(const std::string& id, const std::string& manifest,
                           const std::string& kind, const std::string& user);
    /// The manifest text of a commit or results tree; nullopt when unknown.
    Result<std::optional<std::string>> getCommit(const std::string& id);

private:
    Result<Job> load(std::int64_t seq);
    /// One job row, its dependencies and its first event (inside the caller's transaction);
    /// returns its seq.
    /// Inserts the jobs of `sweep` (submitSweep, expandSweep): specs[i] with seq seqOf(i) (0:
    /// the next rowid), appended to sweep.jobs as inserted. Call inside a transaction.
    Result<void> insertSweepJobs(SweepRecord& sweep, const std::vector<JobSpec>& specs,
                                 JobState initial, const std::string& reason,
                                 const std::function<std::int64_t(std::size_t)>& seqOf,
                                 bool shared);
    Result<std::int64_t> insertJob(const JobSpec& spec, JobState initial, const std::string& reason,
                                   std::int64_t sweepSeq, std::int64_t now,
                                   std::int64_t explicitSeq = 0, bool shared = false);
    /// One row of job_events (inside the caller's transaction).
    Result<void> insertEvent(std::int64_t seq, std::int64_t at, const std::string& from,
                             const std::string& to, const std::string& reason);
    Result<std::map<std::string, double>> lastMetrics(std::int64_t seq);
    Result<std::vector<Job>> query(const std::string& sql,
                                   const std::function<void(Statement&)>& bind);

    Database& db_;
    MsClock clock_;
};

}  // namespace fetchml
