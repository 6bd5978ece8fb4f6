#include "SharedQueue.hpp"

#include <algorithm>
#include <set>

#include "core/Log.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.shared");
}

/// Events read in one round at most (batches of kEventBatch).
constexpr std::uint32_t kEventBatch = 256;
constexpr int kEventBatchesPerTick = 8;

template <typename T>
T field(const nlohmann::json& object, const char* name, T fallback) {
    auto it = object.find(name);
    if (it == object.end() || it->is_null()) {
        return fallback;
    }
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        return fallback;
    }
}

}  // namespace

nlohmann::json SharedQueue::payload(const std::string& origin, const JobSpec& spec,
                                    const std::string& manifest,
                                    const std::map<std::string, std::string>& dataManifests) {
    return {{"origin", origin},
            {"manifest", manifest},
            {"data_manifests", dataManifests},
            {"spec", specToJson(spec)}};
}

Result<JobSpec> SharedQueue::specFromPayload(const nlohmann::json& payload) {
    auto it = payload.find("spec");
    if (it == payload.end()) {
        return makeError(ErrorCode::InvalidArgument, "spec: missing");
    }
    return specFromJson(*it);
}

SharedQueueHooks SharedQueue::hooks() {
    SharedQueueHooks hooks;
    hooks.nextSeq = [this] { return queue_.nextJobSeq(); };
    hooks.publish = [this](const std::string& id, const JobSpec& spec) -> Result<void> {
        auto manifest = jobs_.getCommit(spec.commit);
        if (!manifest) {
            return manifest.error();
        }
        std::map<std::string, std::string> dataManifests;
        for (const auto& data : spec.data) {
            auto text = jobs_.getCommit(data.tree);
            if (!text) {
                return text.error();
            }
            dataManifests[data.tree] = text->value_or("");
        }
        auto entry =
            queue_.publish(id, payload(host_, spec, manifest->value_or(""), dataManifests).dump());
        if (!entry) {
            return makeError(entry.error().code,
                             "the shared queue did not take the job: " + entry.error().message);
        }
        return {};
    };
    hooks.requestCancel = [this](const std::string& id) { return queue_.requestCancel(id); };
    return hooks;
}

Result<void> SharedQueue::recover() {
    // Ids this database has used already (jobs from before the queue was shared) are never
    // handed out again.
    auto highest = jobs_.maxSeq();
    if (!highest) {
        return highest.error();
    }
    if (auto raised = queue_.raiseJobSeq(*highest); !raised) {
        return raised.error();
    }
    auto held = queue_.held(host_);
    if (!held) {
        return held.error();
    }
    std::size_t adopted = 0;
    std::set<std::string> stillHeld;
    for (const auto& entry : *held) {
        adopted += adoptEntry(entry) ? 1 : 0;
        stillHeld.insert(entry.entryId);
    }
    // Claims recorded here that another host took while this one was down: not ours any more
    // (the worker's jobs for them are stopped as not ours when it says hello).
    auto claimed = jobs_.claimed();
    if (!claimed) {
        return claimed.error();
    }
    for (const auto& job : *claimed) {
        if (stillHeld.count(job.claim) != 0) {
            continue;
        }
        if (isTerminal(job.state)) {
            if (auto cleared = jobs_.clearClaim(job.id); !cleared) {
                return cleared.error();
            }
        } else {
            scheduler_.yieldClaim(job.id, "");
        }
    }
    if (!held->empty()) {
        log()->info("shared queue: {} entries still held by {}, {} taken up again", held->size(),
                    host_, adopted);
    }
    return {};
}

void SharedQueue::tick() {
    // Renewal first: a claim lost while this host was silent becomes shared again before the
    // events of the host that took it are read, so they are mirrored.
    if (jobs_.now() >= nextRenewMs_) {
        nextRenewMs_ = jobs_.now() + std::max<std::int64_t>(queue_.leaseMs() / 3, 1);
        renew();
    }
    applyEvents();
    passCancels();
    claimWork();
}

void SharedQueue::onChanged(const Job& job) {
    if (job.claim.empty()) {
        return;  // not run here: a mirror, or waiting in the shared queue
    }
    if (!job.origin.empty() && job.origin != host_) {
        nlohmann::json event{{"origin", job.origin},
                             {"host", host_},
                             {"state", jobStateName(job.state)},
                             {"exit_code", job.exitCode},
                             {"reason", job.reason},
                             {"attempt", job.attempt},
                             {"started_at", job.startedAt},
                             {"finished_at", job.finishedAt},
                             {"results", job.results}};
        if (!job.results.empty()) {
            if (auto manifest = jobs_.getCommit(job.results); manifest && *manifest) {
                event["results_manifest"] = **manifest;
            }
        }
        if (auto sent = queue_.announce(job.id, event.dump()); !sent) {
            log()->warn("job {}: state {} not announced to {}: {}", job.id, jobStateName(job.state),
                        job.origin, sent.error().message);
        }
    }
    if (isTerminal(job.state)) {
        cancelling_.erase(job.id);
        complete(job);
    }
}

void SharedQueue::complete(const Job& job) {
    auto done = queue_.complete(host_, job.claim);
    if (!done && done.error().code != ErrorCode::NotFound) {
        // Kept claimed: renew() tries again.
        log()->warn("job {}: entry {} not completed yet: {}", job.id, job.claim,
                    done.error().message);
        return;
    }
    if (auto cleared = jobs_.clearClaim(job.id); !cleared) {
        log()->error("job {}: {}", job.id, cleared.error().message);
    }
}

void SharedQueue::applyEvents() {
    auto last = jobs_.sharedValue("events.last");
    if (!last) {
        log()->error("cannot read the last event read: {}", last.error().message);
        return;
    }
    std::string after = *last;
    for (int batch = 0; batch < kEventBatchesPerTick; ++batch) {
        auto events = queue_.events(after, kEventBatch);
        if (!events) {
            log()->warn("cannot read the shared job events: {}", events.error().message);
            return;
        }
        for (const auto& event : *events) {
            after = event.eventId;
            auto body = nlohmann::json::parse(event.payload, nullptr, false);
            if (!body.is_object() || field<std::string>(body, "origin", "") != host_) {
                continue;
            }
            const auto host = field<std::string>(body, "host", "");
            auto state = parseJobState(field<std::string>(body, "state", ""));
            if (host == host_ || !state) {
                continue;
            }
            const auto results = field<std::string>(body, "results", "");
            const auto manifest = field<std::string>(body, "results_manifest", "");
            if (!results.empty() && !manifest.empty()) {
                if (auto put = jobs_.putCommit(results, manifest, "results", ""); !put) {
                    log()->warn("job {}: results manifest not recorded: {}", event.jobId,
                                put.error().message);
                }
            }
            auto job = jobs_.mirror(event.jobId, *state, field<std::int32_t>(body, "exit_code", 0),
                                    field<std::string>(body, "reason", ""), host,
                                    field<std::int32_t>(body, "attempt", 1),
                                    field<std::int64_t>(body, "started_at", 0),
                                    field<std::int64_t>(body, "finished_at", 0), results);
            if (!job) {
                log()->error("job {}: event from {} not recorded: {}", event.jobId, host,
                             job.error().message);
            } else if (*job) {
                scheduler_.mirrored(**job);
            }
        }
        if (auto saved = jobs_.setSharedValue("events.last", after); !saved) {
            log()->error("cannot record the last event read: {}", saved.error().message);
        }
        if (events->size() < kEventBatch) {
            return;
        }
    }
}

void SharedQueue::renew() {
    auto claimed = jobs_.claimed();
    if (!claimed) {
        log()->error("cannot read this host's claims: {}", claimed.error().message);
        return;
    }
    std::vector<std::string> entries;
    std::map<std::string, std::string> idOfEntry;
    for (const auto& job : *claimed) {
        if (isTerminal(job.state)) {
            complete(job);  // its completion failed before
            continue;
        }
        if (job.state == JobState::Queued && scheduler_.tooBig(job.id)) {
            // Cannot run here: let the lease run out so that another host takes it.
            log()->info("job {} does not fit this host; leaving it to the other hosts", job.id);
            auto left =
                jobs_.yieldClaim(job.id, "", "does not fit " + host_ + ": left to the other hosts");
            if (!left) {
                log()->error("job {}: {}", job.id, left.error().message);
            }
            continue;
        }
        entries.push_back(job.claim);
        idOfEntry[job.claim] = job.id;
    }
    if (entries.empty()) {
        return;
    }
    auto lost = queue_.renew(host_, entries);
    if (!lost) {
        log()->warn("leases not renewed: {}", lost.error().message);
        return;
    }
    for (const auto& entry : *lost) {
        scheduler_.yieldClaim(idOfEntry[entry], "another host");
    }
}

void SharedQueue::passCancels() {
    auto claimed = jobs_.claimed();
    if (!claimed) {
        log()->error("cannot read this host's claims: {}", claimed.error().message);
        return;
    }
    std::vector<std::string> ids;
    for (const auto& job : *claimed) {
        if (!isTerminal(job.state)) {
            ids.push_back(job.id);
        }
    }
    if (ids.empty()) {
        return;
    }
    auto cancels = queue_.cancelRequested(ids);
    if (!cancels) {
        log()->warn("cancel requests not read: {}", cancels.error().message);
        return;
    }
    for (const auto& id : *cancels) {
        if (!cancelling_.insert(id).second) {
            continue;  // asked already; the worker's report ends it
        }
        auto asked = scheduler_.cancel(id);
        if (!asked && asked.error().code != ErrorCode::InvalidArgument) {
            cancelling_.erase(id);  // e.g. the worker is not connected: ask again later
            log()->warn("job {}: cancel asked by another host not done yet: {}", id,
                        asked.error().message);
        }
    }
}

void SharedQueue::dropEntry(const QueueEntry& entry) {
    if (auto done = queue_.complete(host_, entry.entryId); !done) {
        log()->warn("entry {} not removed: {}", entry.entryId, done.error().message);
    }
}

bool SharedQueue::adoptEntry(const QueueEntry& entry) {
    const std::int64_t seq = seqFromJobId(entry.jobId);
    auto body = nlohmann::json::parse(entry.payload, nullptr, false);
    auto spec =
        body.is_object()
            ? specFromPayload(body)
            : Result<JobSpec>(makeError(ErrorCode::InvalidArgument, "payload: not a JSON object"));
    if (seq == 0 || !spec) {
        log()->error("shared-queue entry {} (job {}) is not a job: {}; dropped", entry.entryId,
                     entry.jobId.substr(0, 40), spec ? "bad job id" : spec.error().message);
        dropEntry(entry);
        return false;
    }
    auto cancelled = queue_.cancelRequested({entry.jobId});
    if (cancelled && !cancelled->empty()) {
        log()->info("job {} was cancelled before it started; entry dropped", entry.jobId);
        dropEntry(entry);
        return false;
    }
    const auto manifest = field<std::string>(body, "manifest", "");
    if (!manifest.empty()) {
        if (auto put = jobs_.putCommit(spec->commit, manifest, "commit", spec->user); !put) {
            log()->error("job {}: commit not recorded: {}", entry.jobId, put.error().message);
            return false;  // the lease runs out and a host takes it again
        }
    }
    if (auto data = body.find("data_manifests"); data != body.end() && data->is_object()) {
        for (const auto& [tree, text] : data->items()) {
            if (!text.is_string() || text.get_ref<const std::string&>().empty()) {
                continue;
            }
            if (auto put = jobs_.putCommit(tree, text.get<std::string>(), "dataset", spec->user);
                !put) {
                log()->error("job {}: dataset tree {} not recorded: {}", entry.jobId, tree,
                             put.error().message);
                return false;  // the lease runs out and a host takes it again
            }
        }
    }
    auto origin = field<std::string>(body, "origin", "");
    auto job = jobs_.adopt(seq, *spec, entry.entryId, origin == host_ ? "" : origin,
                           static_cast<std::int32_t>(entry.deliveries));
    if (!job) {
        log()->error("job {}: not taken from the shared queue: {}", entry.jobId,
                     job.error().message);
        return false;
    }
    log()->info("job {} claimed from the shared queue (submitted on {}{})", entry.jobId,
                origin.empty() ? "?" : origin,
                entry.deliveries > 1 ? ", its earlier host went away" : "");
    if (isTerminal(job->state)) {
        complete(*job);  // it ended here before its entry was completed
    } else {
        onChanged(*job);
    }
    return true;
}

void SharedQueue::claimWork() {
    std::uint32_t room = scheduler_.room();
    if (room == 0) {
        return;
    }
    bool any = false;
    auto reclaimed = queue_.reclaim(host_, room);
    if (!reclaimed) {
        log()->warn("cannot reclaim expired entries: {}", reclaimed.error().message);
    } else {
        for (const auto& entry : *reclaimed) {
            any = adoptEntry(entry) || any;
        }
        room -= std::min<std::uint32_t>(room, static_cast<std::uint32_t>(reclaimed->size()));
    }
    if (room > 0) {
        auto claimed = queue_.claim(host_, room);
        if (!claimed) {
            log()->warn("cannot claim from the shared queue: {}", claimed.error().message);
        } else {
            for (const auto& entry : *claimed) {
                any = adoptEntry(entry) || any;
            }
        }
    }
    if (any) {
        scheduler_.dispatch();
    }
}

}  // namespace fetchml
