#pragma once
// PruneRunner: runs prunes (`fetchmlctl prune`, PruneJobs) on fetchmld's loop, one at a time in
// the order they came: the finished jobs and their run directories first (JobPruner, at once),
// then the store's garbage collection (BlobCollector) in steps of about kStepBudget from an
// idle-priority defer source, so that between steps the loop serves calls, the worker and its
// timers first (decisions.md "Blob garbage collection"). Each caller is told when its prune is
// complete. The removals are logged here (logger sched.prune); the caller audits.

#include <systemd/sd-event.h>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "BlobCollector.hpp"
#include "JobPruner.hpp"
#include "core/Result.hpp"
#include "sys/SdEvent.hpp"

namespace fetchml {

/// What one prune did (or, for a dry run, would do).
struct PruneOutcome {
    PruneReport jobs;       ///< the finished jobs
    GcReport store;         ///< the store's collection (empty when it did not run)
    std::string gcSkipped;  ///< why the store was not collected; "" when it was
    bool dryRun = false;
};

/// Prunes, one after another.
class PruneRunner {
public:
    /// Receives a prune's outcome, on the loop; an error when it failed.
    using Done = std::function<void(Result<PruneOutcome>)>;
    /// About how long one step of a collection runs before the loop serves other events.
    static constexpr std::chrono::milliseconds kStepBudget{10};

    /// loop: where collections run in steps (nullptr: a prune runs to its end inside submit()).
    /// collector: nullptr when this host does not collect the store, for the reason gcOff
    /// (reported in every outcome). Throws std::system_error when the loop refuses the defer
    /// source (start-up).
    PruneRunner(sd_event* loop, JobPruner& pruner, BlobCollector* collector, std::string gcOff);

    /// Called as each prune starts, before its roots are read: fetchmld stores the submissions
    /// that wait for their group commit, which were validated against commits the collection
    /// could otherwise drop before they are stored.
    void setBeforeStart(std::function<void()> hook) { beforeStart_ = std::move(hook); }
    /// Queues a prune (filter as JobPruner::prune takes it); done is called when it is
    /// complete. Errors go to done: JobPruner's (then nothing was removed), or Internal "pruned
    /// N jobs but the store was not collected: ..." when the collection failed.
    void submit(const PruneFilter& filter, Done done);
    /// Ends the running prune and the queued ones with Busy (fetchmld is stopping); what the
    /// running one removed stays removed.
    void abort();

private:
    struct Pending {
        PruneFilter filter;
        Done done;
    };

    /// Starts queued prunes until one collects in steps or none is left.
    void startNext();
    /// One step of the running collection; ends the prune when it is complete or failed.
    void advance();
    /// Ends the running prune with `result`.
    void finish(Result<PruneOutcome> result);
    static int onStep(sd_event_source* source, void* self);

    JobPruner& pruner_;
    BlobCollector* collector_;
    std::string gcOff_;
    std::function<void()> beforeStart_;
    std::deque<Pending> queue_;
    std::optional<Pending> running_;  ///< the prune whose collection is in progress
    PruneOutcome outcome_;            ///< its outcome so far
    std::chrono::steady_clock::time_point startedAt_;
    SdEventSourcePtr stepper_;  ///< defer source, on while a collection runs
};

}  // namespace fetchml
