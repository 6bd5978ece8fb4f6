#include "PruneRunner.hpp"

#include <system_error>

#include "core/Log.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.prune");
}

}  // namespace

PruneRunner::PruneRunner(sd_event* loop, JobPruner& pruner, BlobCollector* collector,
                         std::string gcOff)
    : pruner_(pruner), collector_(collector), gcOff_(std::move(gcOff)) {
    if (loop == nullptr || collector_ == nullptr) {
        return;
    }
    sd_event_source* source = nullptr;
    int r = sd_event_add_defer(loop, &source, &PruneRunner::onStep, this);
    if (r < 0) {
        throw std::system_error(-r, std::generic_category(), "sd_event_add_defer(prune)");
    }
    stepper_.reset(source);
    sd_event_source_set_enabled(source, SD_EVENT_OFF);
    // Idle: dispatched only when nothing else is pending, so bus calls, the worker's messages
    // and timers always go first and a collection only fills the loop's spare time.
    sd_event_source_set_priority(source, SD_EVENT_PRIORITY_IDLE);
    sd_event_source_set_description(source, "store-gc");
}

void PruneRunner::submit(const PruneFilter& filter, Done done) {
    queue_.push_back(Pending{filter, std::move(done)});
    startNext();
}

void PruneRunner::startNext() {
    while (!running_ && !queue_.empty()) {
        Pending next = std::move(queue_.front());
        queue_.pop_front();
        if (beforeStart_) {
            beforeStart_();
        }
        auto jobs = pruner_.prune(next.filter);
        if (!jobs) {
            next.done(jobs.error());
            continue;
        }
        for (const auto& dir : jobs->dirsLeft) {
            log()->warn("run directory not removed: {}", dir);
        }
        PruneOutcome outcome{std::move(*jobs), {}, gcOff_, next.filter.dryRun};
        if (collector_ == nullptr) {
            next.done(std::move(outcome));
            continue;
        }
        startedAt_ = std::chrono::steady_clock::now();
        const bool dry = next.filter.dryRun;
        auto started =
            collector_->start(dry, dry ? outcome.jobs.pruned : std::vector<std::string>{});
        if (!started) {
            next.done(
                makeError(ErrorCode::Internal,
                          "pruned " + std::to_string(outcome.jobs.pruned.size()) +
                              " jobs but the store was not collected: " + started.error().message));
            continue;
        }
        if (!dry) {
            for (const auto& [id, kind] : collector_->report().trees) {
                log()->info(
                    "{} {} removed from the store's records: no job, pin or grace "
                    "period keeps it",
                    kind, id);
            }
        }
        outcome_ = std::move(outcome);
        running_ = std::move(next);
        if (!stepper_) {
            while (running_) {
                advance();
            }
            continue;
        }
        sd_event_source_set_enabled(stepper_.get(), SD_EVENT_ON);
    }
}

void PruneRunner::advance() {
    auto done = collector_->step(kStepBudget);
    if (!done) {
        log()->error("the store's collection stopped: {}", done.error().message);
        finish(makeError(ErrorCode::Internal,
                         "pruned " + std::to_string(outcome_.jobs.pruned.size()) +
                             " jobs but the store's collection stopped: " + done.error().message +
                             " (what was removed so far stays removed)"));
        return;
    }
    if (!*done) {
        return;
    }
    outcome_.store = collector_->report();
    if (!outcome_.store.sweepSkipped.empty()) {
        outcome_.gcSkipped = outcome_.store.sweepSkipped;
        log()->info("store: blobs not collected: {}", outcome_.store.sweepSkipped);
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - startedAt_)
                        .count();
    log()->info("store {}: {} trees and {} blobs ({} bytes) {} in {} ms",
                outcome_.dryRun ? "dry run" : "collected", outcome_.store.trees.size(),
                outcome_.store.blobsRemoved, outcome_.store.bytesFreed,
                outcome_.dryRun ? "would go" : "removed", ms);
    finish(std::move(outcome_));
}

void PruneRunner::finish(Result<PruneOutcome> result) {
    Pending ended = std::move(*running_);
    running_.reset();
    if (stepper_) {
        sd_event_source_set_enabled(stepper_.get(), SD_EVENT_OFF);
    }
    ended.done(std::move(result));
}

int PruneRunner::onStep(sd_event_source*, void* self) {
    auto* runner = static_cast<PruneRunner*>(self);
    if (runner->running_) {
        runner->advance();
    }
    runner->startNext();
    return 0;
}

void PruneRunner::abort() {
    if (running_) {
        finish(makeError(ErrorCode::Busy,
                         "fetchmld is stopping: the store's collection was interrupted (what "
                         "was removed stays removed); prune again"));
    }
    while (!queue_.empty()) {
        Pending next = std::move(queue_.front());
        queue_.pop_front();
        next.done(makeError(ErrorCode::Busy, "fetchmld is stopping: nothing was pruned"));
    }
}

}  // namespace fetchml
