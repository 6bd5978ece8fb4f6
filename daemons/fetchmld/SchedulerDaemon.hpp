#pragma once
// SchedulerDaemon: fetchmld's process. run() goes in the fixed order of STYLE.md: argv →
// settings → --check-config → logging → database → store → bus name → READY=1 → sd-event
// loop (bus, worker link, SIGTERM/SIGINT/SIGHUP, watchdog) → STOPPING=1 → exit 0.

#include <systemd/sd-event.h>

#include <memory>
#include <string>
#include <vector>

#include "Authenticator.hpp"
#include "BlobCollector.hpp"
#include "Database.hpp"
#include "DatasetStore.hpp"
#include "JobPruner.hpp"
#include "JobStore.hpp"
#include "PinStore.hpp"
#include "PruneRunner.hpp"
#include "Scheduler.hpp"
#include "SchedulerBus.hpp"
#include "SharedQueue.hpp"
#include "UserStore.hpp"
#include "WorkerLink.hpp"
#include "core/Config.hpp"
#include "core/Settings.hpp"
#include "dbus/SdEventBus.hpp"
#include "store/BlobStore.hpp"
#include "sys/SdEvent.hpp"

namespace fetchml {

/// The scheduler daemon.
class SchedulerDaemon {
public:
    /// The whole program: returns the process exit code (0 after a clean SIGTERM; 1 for a
    /// bad config or a start-up failure, logged as one line).
    static int run(int argc, char** argv);

private:
    explicit SchedulerDaemon(Settings settings, LoadOptions loadOptions)
        : settings_(std::move(settings)), loadOptions_(std::move(loadOptions)) {}

    Result<void> openState();
    void connectBus();
    Result<void> setupLoop();
    void armWatchdog(std::uint64_t intervalUsec);
    void reload();
    int serve();

    static int onSignal(sd_event_source* source, const struct signalfd_siginfo* info, void* self);
    /// Starts agingTimer_ (nothing when aging_interval_s is 0). Errors: Internal.
    Result<void> armAgingTimer();
    /// queue.backend redis: connects to the shared queue and takes up this host's claims.
    /// Errors: the back end's (a bad URL, a server that does not answer).
    Result<void> openSharedQueue();
    /// Starts sharedTimer_ (every queue.poll_ms) when the queue is shared. Errors: Internal.
    Result<void> armSharedTimer();
    /// (Re)arms retryTimer_ for atMs (ms since the epoch, CLOCK_REALTIME).
    void armRetryTimer(std::int64_t atMs);
    /// Stores the jobs of accepted sweeps (Scheduler::expandPendingSweeps); when the database
    /// refuses, tries again a second later.
    void expandSweeps();
    static int onWatchdog(sd_event_source* source, std::uint64_t usec, void* self);
    /// Queues a JobChanged for the next loop iteration (announcements_), so a call that changes
    /// many jobs (a sweep) is answered before its signals are sent; order is kept.
    void announce(const Job& job);
    static int onAnnounce(sd_event_source* source, void* self);

    Settings settings_;
    LoadOptions loadOptions_;
    std::unique_ptr<Database> db_;
    std::unique_ptr<BlobStore> store_;
    std::unique_ptr<JobStore> jobs_;
    std::unique_ptr<RoleTable> roles_;
    std::unique_ptr<UserStore> users_;
    std::unique_ptr<PolkitAuthority> polkit_;
    std::unique_ptr<Authenticator> auth_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<JobPruner> pruner_;
    std::unique_ptr<BlobCollector> collector_;  ///< none when the store is shared by hosts
    std::unique_ptr<PruneRunner> prunes_;
    std::unique_ptr<PinStore> pins_;
    std::unique_ptr<DatasetStore> datasets_;
    std::unique_ptr<ChunkedFiles> chunks_;
    std::unique_ptr<JobQueue> queue_;      ///< the shared queue (queue.backend redis)
    std::unique_ptr<SharedQueue> shared_;  ///< this host's side of it
    SdEventPtr loop_;
    SdEventSourcePtr sigterm_, sigint_, sighup_, watchdog_;
    SdEventSourcePtr retryTimer_;     ///< runs dispatch() when the earliest retry is due
    SdEventSourcePtr agingTimer_;     ///< runs age() every scheduler.aging_interval_s
    SdEventSourcePtr announcer_;      ///< defer source that emits announcements_
    SdEventSourcePtr sharedTimer_;    ///< SharedQueue::tick() every queue.poll_ms
    SdEventSourcePtr sweepExpander_;  ///< defer source: expandPendingSweeps() after an answer
    SdEventSourcePtr sweepRetry_;     ///< timer: expandSweeps() again after a failed expansion
    std::vector<Job> announcements_;
    std::uint64_t watchdogUsec_ = 0;
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<SchedulerBus> object_;
    std::unique_ptr<SdEventBus> pump_;
    std::unique_ptr<WorkerLink> worker_;
};

}  // namespace fetchml
