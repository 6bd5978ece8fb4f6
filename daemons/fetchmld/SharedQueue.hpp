#pragma once
// SharedQueue: this host's side of a queue shared by several hosts (queue.backend redis).
// Submissions go into the JobQueue (Scheduler through hooks()); every poll this host reads
// the job events of other hosts for jobs submitted here, renews the leases of the entries it
// holds (every lease/3), stops jobs whose entries another host took, passes on cancel
// requests, and claims as many entries as it has room for — first those whose lease ran out
// (their host died), then new ones — making each a local job the Scheduler dispatches. A job
// that ends completes its entry and is announced to its origin host.
// See decisions.md "Several hosts: the shared queue".

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "Job.hpp"
#include "JobQueue.hpp"
#include "JobStore.hpp"
#include "Scheduler.hpp"

namespace fetchml {

class SharedQueue {
public:
    /// `host` is this host's consumer name in the queue (queue.host_id), unique per host.
    SharedQueue(JobQueue& queue, JobStore& jobs, Scheduler& scheduler, std::string host)
        : queue_(queue), jobs_(jobs), scheduler_(scheduler), host_(std::move(host)) {}

    /// What the Scheduler calls to submit into and cancel in the shared queue.
    SharedQueueHooks hooks();
    /// At start: raises the shared job sequence above every id in this host's database; the
    /// entries this host still holds (it restarted within their lease) are its jobs again,
    /// those whose jobs already ended are completed. Errors: the queue's or the database's
    /// (fetchmld does not start).
    Result<void> recover();
    /// One round (every queue.poll_ms): renewal when due, events, cancel requests, claims,
    /// dispatch.
    void tick();
    /// Every change of a job (the Scheduler's JobChanged): a job this host runs for another
    /// host is announced to it; a job that ended completes its entry.
    void onChanged(const Job& job);

    /// The entry payload of a job (decisions.md): {"origin", "spec": {...}, "manifest",
    /// "data_manifests": {tree id: manifest text} (its datasets' trees, which the host that
    /// claims it records before it runs the job)}.
    static nlohmann::json payload(const std::string& origin, const JobSpec& spec,
                                  const std::string& manifest,
                                  const std::map<std::string, std::string>& dataManifests = {});
    /// The spec inside an entry payload. Errors: InvalidArgument naming the field.
    static Result<JobSpec> specFromPayload(const nlohmann::json& payload);

private:
    void applyEvents();
    void renew();
    /// Cancels the jobs held here that another host asked to cancel (every round).
    void passCancels();
    void claimWork();
    /// Makes a claimed entry a local job; false when it was not (logged).
    bool adoptEntry(const QueueEntry& entry);
    void complete(const Job& job);
    /// Removes an entry that will not run (cancelled, or not a job).
    void dropEntry(const QueueEntry& entry);

    JobQueue& queue_;
    JobStore& jobs_;
    Scheduler& scheduler_;
    std::string host_;
    std::int64_t nextRenewMs_ = 0;
    std::set<std::string> cancelling_;  // cancel passed on to the worker, not yet ended
};

}  // namespace fetchml
