// `fetchmlctl watch DIR [--debounce MS] [--no-cache] [--queue [queue options] -- CMD...]`:
// follows a tree with inotify (TreeWatcher), waits until a burst of changes is over
// (Debouncer), syncs the tree the way `sync` does (syncDirectory) and prints one line a sync;
// with --queue it submits, the way `queue` does (Submission), a run of each commit it has not
// queued before. Runs until SIGINT or SIGTERM (exit 0, after a line saying what it did).

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "Commands.hpp"
#include "Debouncer.hpp"
#include "Submission.hpp"
#include "TextFormat.hpp"
#include "TreeSync.hpp"
#include "TreeWatcher.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

/// A failed sync is tried again this long after (or sooner, after the next change).
constexpr std::int64_t kRetryMs = 5000;
/// However busy the tree, a change waits at most this many debounce times, and at least 10 s.
constexpr std::int64_t kMaxDelayFactor = 20;
constexpr std::int64_t kMinMaxDelayMs = 10000;

struct WatchArgs {
    std::string dir;
    QueueOptions options;
    std::vector<CLI::Option*> queueOptions;  // to tell whether one was given without --queue
    bool queue = false;
    int debounceMs = 500;
    bool noCache = false;
};

// SIGINT and SIGTERM set a flag and wake poll(2) through a pipe; the loop then ends after the
// sync under way, if any. A second signal ends the process at once (the default action).
volatile sig_atomic_t gStopSignal = 0;
int gWakeFd = -1;

extern "C" void onStopSignal(int sig) {
    if (gStopSignal != 0) {
        ::signal(sig, SIG_DFL);
        ::raise(sig);
        return;
    }
    gStopSignal = sig;
    const int saved = errno;
    [[maybe_unused]] ssize_t n = ::write(gWakeFd, "x", 1);
    errno = saved;
}

/// Installs the stop handlers for its lifetime.
class StopSignals {
public:
    StopSignals() {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
            throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
        }
        read_.reset(fds[0]);
        write_.reset(fds[1]);
        gStopSignal = 0;
        gWakeFd = write_.get();
        struct sigaction sa {};
        sa.sa_handler = onStopSignal;
        sa.sa_flags = SA_RESTART;  // a sync under way goes on; poll(2) is woken all the same
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &oldInt_);
        ::sigaction(SIGTERM, &sa, &oldTerm_);
    }
    ~StopSignals() {
        ::sigaction(SIGINT, &oldInt_, nullptr);
        ::sigaction(SIGTERM, &oldTerm_, nullptr);
        gWakeFd = -1;
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    int fd() const { return read_.get(); }
    int signal() const { return gStopSignal; }

private:
    UniqueFd read_;
    UniqueFd write_;
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
};

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// One `fetchmlctl watch`: the loop and what it did.
class Watch {
public:
    Watch(Transport& transport, const WatchArgs& args, const Submission* submission,
          TreeWatcher& watcher)
        : transport_(transport),
          args_(args),
          submission_(submission),
          watcher_(watcher),
          debouncer_(args.debounceMs,
                     std::max<std::int64_t>(kMinMaxDelayMs, kMaxDelayFactor * args.debounceMs)) {}

    /// The first sync, then syncs after changes until a stop signal. A failure of the first
    /// sync ends the command (the server or the tree is not usable); later ones are retried.
    Outcome run(const StopSignals& stop) {
        say("watching " + args_.dir + ": " + std::to_string(watcher_.directories()) +
            (watcher_.directories() == 1 ? " directory" : " directories") + ", debounce " +
            std::to_string(args_.debounceMs) + " ms");
        if (auto failed = syncOnce()) {
            return failed;
        }
        while (stop.signal() == 0) {
            pollfd fds[2] = {{watcher_.fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
            const int ready = ::poll(fds, 2, debouncer_.timeoutMs(nowMs()));
            if (ready < 0 && errno != EINTR) {
                return usageFailure(std::string("poll: ") + std::strerror(errno));
            }
            if (stop.signal() != 0) {
                break;
            }
            if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
                if (auto failed = readEvents()) {
                    return failed;
                }
            }
            if (debouncer_.due(nowMs())) {
                debouncer_.clear();
                if (auto failed = syncOnce(); failed) {
                    std::fprintf(stderr, "fetchmlctl: watch: %s; trying again in %lld s\n",
                                 failed->message.c_str(), static_cast<long long>(kRetryMs / 1000));
                    debouncer_.retry(nowMs(), kRetryMs);
                }
            }
        }
        say("stopped by " + std::string(stop.signal() == SIGINT ? "SIGINT" : "SIGTERM") + ": " +
            plural(syncs_, "sync") +
            (failures_ > 0 ? " (" + std::to_string(failures_) + " failed)" : "") + ", " +
            plural(commits_.size(), "commit") +
            (submission_ != nullptr ? ", " + plural(jobsQueued_, "job") + " queued" : ""));
        return std::nullopt;
    }

private:
    static void say(const std::string& line) { std::cout << line << std::endl; }

    Outcome readEvents() {
        auto events = watcher_.read();
        if (!events) {
            return failureFrom(events.error());
        }
        if (events->rootGone) {
            return usageFailure(args_.dir + " was removed or moved away");
        }
        if (events->overflow) {
            say("events were lost (inotify queue overflow): syncing the whole tree");
        }
        if (events->changes > 0 || events->overflow) {
            debouncer_.change(nowMs());
        }
        return std::nullopt;
    }

    Outcome syncOnce() {
        ++syncs_;
        SyncSummary summary;
        if (auto failed =
                syncDirectory(transport_, args_.dir, ScanOptions{.useCache = !args_.noCache},
                              SyncOptions{.progress = progressWanted()}, summary)) {
            ++failures_;
            return failed;
        }
        const bool changed = summary.commit != lastCommit_;
        lastCommit_ = summary.commit;
        commits_.insert(summary.commit);
        std::ostringstream line;
        line << "synced " << summary.commit << ": " << plural(summary.files, "file") << ", "
             << humanBytes(summary.bytes) << "; sent " << plural(summary.blobsSent, "blob") << ", "
             << humanBytes(summary.bytesSent) << "; hashed " << plural(summary.filesHashed, "file")
             << "; ";
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.2f s", summary.seconds);
        line << seconds << (changed ? "" : " (no change)");
        say(line.str());
        return submission_ != nullptr ? queueCommit(summary.commit) : std::nullopt;
    }

    Outcome queueCommit(const std::string& commit) {
        if (!queued_.insert(commit).second) {
            say("commit " + commit.substr(0, 12) + " was queued before: not queued again");
            return std::nullopt;
        }
        auto answer = submission_->submit(transport_, commit);
        if (!answer) {
            queued_.erase(commit);  // tried again with the next sync of this commit
            return failureFrom(answer.error());
        }
        const auto ids = submittedJobIds(*answer, submission_->isSweep());
        jobsQueued_ += ids.size();
        if (submission_->isSweep()) {
            say("queued sweep " + answer->value("sweep", std::string()) + " (" +
                plural(ids.size(), "job") + ") for commit " + commit.substr(0, 12));
        } else {
            say("queued job " + (ids.empty() ? std::string() : ids.front()) + " for commit " +
                commit.substr(0, 12));
        }
        return std::nullopt;
    }

    Transport& transport_;
    const WatchArgs& args_;
    const Submission* submission_;
    TreeWatcher& watcher_;
    Debouncer debouncer_;
    std::string lastCommit_;
    std::set<std::string> commits_;  // distinct commits synced
    std::set<std::string> queued_;   // commits submitted (each at most once)
    std::uint64_t syncs_ = 0;
    std::uint64_t failures_ = 0;
    std::uint64_t jobsQueued_ = 0;
};

Outcome runWatch(CtlContext& ctx, const WatchArgs& args) {
    std::optional<Submission> submission;
    if (args.queue) {
        if (args.options.command.empty()) {
            return usageFailure("watch --queue needs the command to run, after --");
        }
        auto prepared = Submission::prepare(args.options);
        if (!prepared) {
            return usageFailure(prepared.error().message);
        }
        submission = std::move(*prepared);
    } else {
        for (const CLI::Option* option : args.queueOptions) {
            if (option->count() > 0) {
                return usageFailure(option->get_name() + " is a queue option: it needs --queue");
            }
        }
        if (!args.options.command.empty()) {
            return usageFailure("a command to run needs --queue");
        }
    }
    // The transport first: it decides how OpenSSL, which hashes the tree, is initialised.
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    // Watch before the first scan: a change made while it runs is then seen.
    auto watcher = TreeWatcher::open(args.dir);
    if (!watcher) {
        return usageFailure(watcher.error().message);
    }
    StopSignals stop;
    Watch watch(*transport, args, submission ? &*submission : nullptr, **watcher);
    return watch.run(stop);
}

}  // namespace

void addWatchCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<WatchArgs>();
    auto* watch = app.add_subcommand(
        "watch",
        "Sync a directory whenever it changes (inotify), and optionally queue a run "
        "of each new commit");
    watch->add_option("DIR", args->dir, "Directory to watch and sync")
        ->required()
        ->check(CLI::ExistingDirectory);
    watch->add_option("CMD", args->options.command,
                      "With --queue: the command to run in /workspace/code, after --");
    watch
        ->add_option("--debounce", args->debounceMs,
                     "Sync once no change came for this many ms (default 500); a tree that "
                     "never rests is synced every 20 debounce times (at least 10 s)")
        ->type_name("MS")
        ->check(CLI::Range(0, 600000));
    watch->add_flag("--queue", args->queue,
                    "Queue a run of each new commit (the options below are those of `queue`)");
    watch->add_flag("--no-cache", args->noCache,
                    "Read and hash every file at each sync instead of trusting the stat cache");
    args->queueOptions = addQueueOptions(*watch, args->options);
    watch->callback([&ctx, args] { ctx.outcome = runWatch(ctx, *args); });
}

}  // namespace fetchml::ctl
