#include "SchedulerDaemon.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "RedisJobQueue.hpp"
#include "Schema.hpp"
#include "core/DaemonCli.hpp"
#include "core/Log.hpp"
#include "core/Version.hpp"
#include "sys/Notify.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.main");
}

}  // namespace

int SchedulerDaemon::run(int argc, char** argv) {
    CLI::App app{"fetchmld: the FetchML scheduler"};
    DaemonCli cli(app, "fetchmld");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (auto code = cli.handleInfoFlags(std::cout, std::cerr)) {
        return *code;
    }
    auto loaded = loadSettings(cli.loadOptions());
    if (!loaded) {
        std::cerr << "fetchmld: " << loaded.error().message << "\n";
        return 1;
    }
    // A peer that went away (Redis, the worker) must be an error on that write, not the end
    // of the daemon: hiredis writes without MSG_NOSIGNAL.
    ::signal(SIGPIPE, SIG_IGN);
    SchedulerDaemon daemon(resolvePaths(std::move(*loaded)), cli.loadOptions());
    setupLogging(daemon.settings_.log, "fetchmld");
    log()->info("fetchmld {} starting (config {})", projectVersion(),
                daemon.settings_.sourceFile.empty() ? "defaults" : daemon.settings_.sourceFile);
    try {
        if (auto opened = daemon.openState(); !opened) {
            log()->critical("cannot start: {}", opened.error().message);
            return 1;
        }
        if (auto loop = daemon.setupLoop(); !loop) {
            log()->critical("cannot start: {}", loop.error().message);
            return 1;
        }
        daemon.connectBus();
    } catch (const std::exception& e) {
        // Start-up only: a bus we cannot reach or a name we may not own.
        log()->critical("cannot start: {}", e.what());
        return 1;
    }
    return daemon.serve();
}

Result<void> SchedulerDaemon::openState() {
    const std::string& stateDir = settings_.paths.stateDir;
    std::error_code ec;
    std::filesystem::create_directories(stateDir + "/runs", ec);
    if (ec) {
        return makeError(ErrorCode::Internal,
                         "cannot create " + stateDir + "/runs: " + ec.message());
    }
    auto db = Database::open(settings_.scheduler.database);
    if (!db) {
        return db.error();
    }
    db_ = std::move(*db);
    if (auto migrated = db_->migrate(schedulerMigrations()); !migrated) {
        return migrated;
    }
    auto store = BlobStore::create(settings_.paths.storeDir);
    if (!store) {
        return store.error();
    }
    store_ = std::make_unique<BlobStore>(std::move(*store));
    if (settings_.store.gcGraceS == 0) {
        return makeError(ErrorCode::InvalidArgument, "store.gc_grace_s: must be at least 1");
    }
    const std::int64_t graceMs = std::int64_t{settings_.store.gcGraceS} * 1000;
    // A retained blob keeps at least half the grace period (decisions.md "Blob garbage
    // collection") without its inode being written on every sync of an unchanged tree.
    store_->setRefreshAfterMs(graceMs / 2);
    jobs_ = std::make_unique<JobStore>(*db_);
    auto roles = RoleTable::load(settings_.auth.permissionsFile);
    if (!roles) {
        return roles.error();
    }
    if (roles->find(settings_.auth.localRole) == nullptr) {
        return makeError(ErrorCode::InvalidArgument,
                         "auth.local_role: role '" + settings_.auth.localRole +
                             "' is not defined in " + settings_.auth.permissionsFile);
    }
    roles_ = std::make_unique<RoleTable>(std::move(*roles));
    users_ = std::make_unique<UserStore>(*db_, *roles_);
    SchedulerOptions options{stateDir + "/runs",
                             settings_.scheduler.defaultImage,
                             settings_.worker.pidsLimit,
                             settings_.worker.maxRuntimeS,
                             settings_.scheduler.retryDelayS,
                             settings_.scheduler.maxRunningPerUser,
                             static_cast<double>(settings_.scheduler.defaultCpus),
                             settings_.scheduler.backfillDepth};
    scheduler_ = std::make_unique<Scheduler>(*jobs_, *store_, options,
                                             [this](const Job& job) { announce(job); });
    pruner_ = std::make_unique<JobPruner>(*db_, options.runsDir);
    chunks_ = std::make_unique<ChunkedFiles>(*db_, *store_);
    pins_ = std::make_unique<PinStore>(*db_);
    datasets_ = std::make_unique<DatasetStore>(*db_);
    if (settings_.queue.backend != "redis") {
        // Hosts that share a queue share the store, and no one host knows every tree the
        // others' records name: none collects it.
        collector_ = std::make_unique<BlobCollector>(*db_, *store_, graceMs);
    }
    log()->info("database {} and store {} ready", settings_.scheduler.database,
                settings_.paths.storeDir);
    return openSharedQueue();
}

Result<void> SchedulerDaemon::openSharedQueue() {
    const QueueSettings& q = settings_.queue;
    if (q.backend != "redis") {
        return {};
    }
    std::string host = q.hostId;
    if (host.empty()) {
        char name[256] = {};
        ::gethostname(name, sizeof name - 1);
        host = name;
    }
    if (q.leaseS == 0) {
        return makeError(ErrorCode::InvalidArgument, "queue.lease_s: must be at least 1");
    }
    auto queue = RedisJobQueue::connect(q.redisUrl, q.prefix, std::int64_t{q.leaseS} * 1000);
    if (!queue) {
        return queue.error();
    }
    queue_ = std::move(*queue);
    shared_ = std::make_unique<SharedQueue>(*queue_, *jobs_, *scheduler_, host);
    scheduler_->setShared(shared_->hooks());
    if (auto recovered = shared_->recover(); !recovered) {
        return recovered;
    }
    log()->info("sharing the queue at {} (prefix {}) as host {}, lease {} s", q.redisUrl, q.prefix,
                host, q.leaseS);
    return {};
}

Result<void> SchedulerDaemon::armSharedTimer() {
    if (!shared_) {
        return {};
    }
    const std::uint64_t interval =
        std::uint64_t{std::max<std::uint32_t>(settings_.queue.pollMs, 10)} * 1000;
    std::uint64_t now = 0;
    sd_event_now(loop_.get(), CLOCK_MONOTONIC, &now);
    sd_event_source* source = nullptr;
    int rc = sd_event_add_time(
        loop_.get(), &source, CLOCK_MONOTONIC, now + interval, 10000,
        [](sd_event_source* s, std::uint64_t usec, void* self) {
            auto* daemon = static_cast<SchedulerDaemon*>(self);
            daemon->shared_->tick();
            sd_event_source_set_time(s, usec + std::uint64_t{std::max<std::uint32_t>(
                                                   daemon->settings_.queue.pollMs, 10)} *
                                                   1000);
            return 0;
        },
        this);
    if (rc < 0) {
        return makeError(ErrorCode::Internal, "cannot arm the shared-queue timer");
    }
    sharedTimer_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_ON);
    return {};
}

Result<void> SchedulerDaemon::setupLoop() {
    sd_event* raw = nullptr;
    if (sd_event_new(&raw) < 0) {
        return makeError(ErrorCode::Internal, "cannot create the event loop");
    }
    loop_.reset(raw);
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        sigaddset(&mask, sig);
    }
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    std::pair<int, SdEventSourcePtr*> signals[] = {
        {SIGTERM, &sigterm_}, {SIGINT, &sigint_}, {SIGHUP, &sighup_}};
    for (auto& [sig, holder] : signals) {
        sd_event_source* source = nullptr;
        if (sd_event_add_signal(loop_.get(), &source, sig, &SchedulerDaemon::onSignal, this) < 0) {
            return makeError(ErrorCode::Internal, "cannot watch signal " + std::to_string(sig));
        }
        holder->reset(source);
    }
    prunes_ = std::make_unique<PruneRunner>(
        loop_.get(), *pruner_, collector_.get(),
        collector_ ? ""
                   : "the store is shared by the hosts of a shared queue (queue.backend "
                     "redis): no host collects it");
    worker_ = std::make_unique<WorkerLink>(loop_.get(), settings_.scheduler.workerSocket,
                                           settings_.scheduler.reconnectMs, *scheduler_);
    scheduler_->setWorkerSend([this](const nlohmann::json& m) { return worker_->send(m); });
    scheduler_->setWorkerWanted([this] { worker_->want(); });
    scheduler_->setWakeup([this](std::int64_t atMs) { armRetryTimer(atMs); });
    if (!shared_) {
        // A sweep is answered as one record; its jobs are stored once the answer is sent.
        sd_event_source* source = nullptr;
        if (sd_event_add_defer(
                loop_.get(), &source,
                [](sd_event_source*, void* self) {
                    static_cast<SchedulerDaemon*>(self)->expandSweeps();
                    return 0;
                },
                this) < 0) {
            return makeError(ErrorCode::Internal, "cannot create the sweep expansion source");
        }
        sweepExpander_.reset(source);
        sd_event_source_set_enabled(source, SD_EVENT_OFF);
        sd_event_source_set_description(source, "sweep-expansion");
        scheduler_->setSweepPending(
            [this] { sd_event_source_set_enabled(sweepExpander_.get(), SD_EVENT_ONESHOT); });
    }
    if (auto shared = armSharedTimer(); !shared) {
        return shared;
    }
    return armAgingTimer();
}

Result<void> SchedulerDaemon::armAgingTimer() {
    const std::uint64_t interval = std::uint64_t{settings_.scheduler.agingIntervalS} * 1000000;
    if (interval == 0) {
        return {};
    }
    std::uint64_t now = 0;
    sd_event_now(loop_.get(), CLOCK_MONOTONIC, &now);
    sd_event_source* source = nullptr;
    int rc = sd_event_add_time(
        loop_.get(), &source, CLOCK_MONOTONIC, now + interval, 1000000,
        [](sd_event_source* s, std::uint64_t usec, void* self) {
            auto* daemon = static_cast<SchedulerDaemon*>(self);
            daemon->scheduler_->age();
            sd_event_source_set_time(
                s, usec + std::uint64_t{daemon->settings_.scheduler.agingIntervalS} * 1000000);
            return 0;
        },
        this);
    if (rc < 0) {
        return makeError(ErrorCode::Internal, "cannot arm the aging timer");
    }
    agingTimer_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_ON);
    return {};
}

void SchedulerDaemon::armRetryTimer(std::int64_t atMs) {
    // Wall-clock time, as not_before is stored; a little late is fine (accuracy 100 ms).
    const std::uint64_t usec = static_cast<std::uint64_t>(std::max<std::int64_t>(atMs, 0)) * 1000;
    if (retryTimer_) {
        sd_event_source_set_time(retryTimer_.get(), usec);
        sd_event_source_set_enabled(retryTimer_.get(), SD_EVENT_ONESHOT);
        return;
    }
    sd_event_source* source = nullptr;
    if (sd_event_add_time(
            loop_.get(), &source, CLOCK_REALTIME, usec, 100000,
            [](sd_event_source*, std::uint64_t, void* self) {
                static_cast<SchedulerDaemon*>(self)->scheduler_->dispatch();
                return 0;
            },
            this) < 0) {
        log()->error("cannot arm the retry timer; retries start with the next event");
        return;
    }
    retryTimer_.reset(source);
}

void SchedulerDaemon::expandSweeps() {
    scheduler_->expandPendingSweeps();
    if (!scheduler_->sweepsPending()) {
        return;
    }
    // The database refused (busy, full): again in a second, not only at the next bus call.
    std::uint64_t now = 0;
    sd_event_now(loop_.get(), CLOCK_MONOTONIC, &now);
    if (sweepRetry_) {
        sd_event_source_set_time(sweepRetry_.get(), now + 1000000);
        sd_event_source_set_enabled(sweepRetry_.get(), SD_EVENT_ONESHOT);
        return;
    }
    sd_event_source* source = nullptr;
    if (sd_event_add_time(
            loop_.get(), &source, CLOCK_MONOTONIC, now + 1000000, 100000,
            [](sd_event_source*, std::uint64_t, void* self) {
                static_cast<SchedulerDaemon*>(self)->expandSweeps();
                return 0;
            },
            this) >= 0) {
        sweepRetry_.reset(source);
    }
}

void SchedulerDaemon::connectBus() {
    bus_ = settings_.scheduler.bus == "session" ? sdbus::createSessionBusConnection()
                                                : sdbus::createSystemBusConnection();
    if (settings_.auth.polkit) {
        polkit_ = std::make_unique<PolkitAuthority>(*bus_);
    }
    auth_ = std::make_unique<Authenticator>(*users_, *roles_, ::getuid(), polkit_.get(),
                                            settings_.auth.localRole);
    object_ = std::make_unique<SchedulerBus>(
        *bus_, SchedulerBusDeps{*auth_, *users_, *jobs_, *scheduler_, *store_, *prunes_, *pins_,
                                *chunks_, *datasets_, loop_.get()});
    // A prune's roots are read only once the submissions waiting for their group commit are
    // stored: they were validated against commits the collection could otherwise drop.
    prunes_->setBeforeStart([this] {
        object_->commitSubmissions();
        scheduler_->expandPendingSweeps();
    });
    bus_->requestName(kSchedulerBusName);
    pump_ = std::make_unique<SdEventBus>(loop_.get(), *bus_);
    log()->info("serving {} on the {} bus", kSchedulerBusName, settings_.scheduler.bus);
}

int SchedulerDaemon::serve() {
    expandSweeps();  // accepted before a crash: stored before serving
    worker_->start();
    armWatchdog(watchdogIntervalUsec());
    notifyReady("scheduling");
    int rc = sd_event_loop(loop_.get());
    notifyStopping();
    log()->info("fetchmld stopping");
    if (object_) {
        // Submissions read in the last iteration: stored and answered, not dropped unanswered
        // (the replies are queued first, so they leave before the ReleaseName call below).
        object_->commitSubmissions();
    }
    if (prunes_) {
        prunes_->abort();  // answered, not dropped, like the submissions above
    }
    pump_.reset();
    object_.reset();
    if (bus_) {
        try {
            bus_->releaseName(kSchedulerBusName);
        } catch (const sdbus::Error&) {
            // Exiting anyway; the bus drops the name with the connection.
        }
    }
    return rc < 0 ? 1 : 0;
}

void SchedulerDaemon::armWatchdog(std::uint64_t intervalUsec) {
    if (intervalUsec == 0) {
        return;
    }
    watchdogUsec_ = intervalUsec / 4;
    std::uint64_t now = 0;
    sd_event_now(loop_.get(), CLOCK_MONOTONIC, &now);
    sd_event_source* source = nullptr;
    if (sd_event_add_time(loop_.get(), &source, CLOCK_MONOTONIC, now + watchdogUsec_, 0,
                          &SchedulerDaemon::onWatchdog, this) >= 0) {
        watchdog_.reset(source);
        sd_event_source_set_enabled(source, SD_EVENT_ON);
    }
}

void SchedulerDaemon::announce(const Job& job) {
    if (shared_) {
        shared_->onChanged(job);  // at once: the entry is completed as the job ends
    }
    if (!object_) {
        return;
    }
    if (!loop_) {
        object_->jobChanged(job);
        return;
    }
    announcements_.push_back(job);
    if (announcements_.size() > 1) {
        return;  // already armed
    }
    if (announcer_) {
        sd_event_source_set_enabled(announcer_.get(), SD_EVENT_ONESHOT);
        return;
    }
    sd_event_source* source = nullptr;
    if (sd_event_add_defer(loop_.get(), &source, &SchedulerDaemon::onAnnounce, this) < 0) {
        // Cannot defer: announce now rather than never.
        auto pending = std::move(announcements_);
        announcements_.clear();
        for (const auto& j : pending) {
            object_->jobChanged(j);
        }
        return;
    }
    announcer_.reset(source);
}

int SchedulerDaemon::onAnnounce(sd_event_source*, void* self) {
    auto* daemon = static_cast<SchedulerDaemon*>(self);
    auto pending = std::move(daemon->announcements_);
    daemon->announcements_.clear();
    for (const auto& job : pending) {
        if (daemon->object_) {
            daemon->object_->jobChanged(job);
        }
    }
    return 0;
}

int SchedulerDaemon::onWatchdog(sd_event_source* source, std::uint64_t usec, void* self) {
    auto* daemon = static_cast<SchedulerDaemon*>(self);
    notifyWatchdog();
    sd_event_source_set_time(source, usec + daemon->watchdogUsec_);
    return 0;
}

void SchedulerDaemon::reload() {
    auto loaded = loadSettings(loadOptions_);
    if (!loaded) {
        log()->error("reload failed, keeping the old configuration: {}", loaded.error().message);
        return;
    }
    // Only the log level is taken over at run time; paths, bus and socket need a restart.
    settings_.log = loaded->log;
    setupLogging(settings_.log, "fetchmld");
    log()->info("configuration reloaded (log level {})", settings_.log.level);
    // Roles are re-read too; a bad file keeps the roles in force.
    auto roles = RoleTable::load(settings_.auth.permissionsFile);
    if (!roles) {
        log()->error("keeping the current roles: {}", roles.error().message);
        return;
    }
    *roles_ = std::move(*roles);
    log()->info("roles reloaded from {}", settings_.auth.permissionsFile);
}

int SchedulerDaemon::onSignal(sd_event_source*, const struct signalfd_siginfo* info, void* self) {
    auto* daemon = static_cast<SchedulerDaemon*>(self);
    if (info->ssi_signo == SIGHUP) {
        daemon->reload();
        return 0;
    }
    log()->info("signal {} received, stopping", info->ssi_signo);
    sd_event_exit(daemon->loop_.get(), 0);
    return 0;
}

}  // namespace fetchml
