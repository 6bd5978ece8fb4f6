#include "Scheduler.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "core/Log.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/TreeIo.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.dispatch");
}

}  // namespace

bool Scheduler::isValidParamName(const std::string& name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) {
            return false;
        }
    }
    return true;
}

Result<void> Scheduler::validate(const JobSpec& spec) {
    auto invalid = [](std::string message) {
        return makeError(ErrorCode::InvalidArgument, std::move(message));
    };
    if (spec.commit.empty()) {
        return invalid("commit: missing");
    }
    auto known = jobs_.getCommit(spec.commit);
    if (!known) {
        return known.error();
    }
    if (!*known) {
        // NotFound, not InvalidArgument: a client that submits a tree it sent before without
        // sending it again (fetchmlctl queue) takes this answer as "send the tree first".
        return makeError(ErrorCode::NotFound, "commit: " + spec.commit +
                                                  " is not a known commit (PutManifest it first)");
    }
    if (spec.command.empty()) {
        return invalid("command: must not be empty");
    }
    if (spec.command.front().empty()) {
        return invalid("command: the program (first element) must not be empty");
    }
    if (spec.priority < kMinPriority || spec.priority > kMaxPriority) {
        return invalid("priority: expected " + std::to_string(kMinPriority) + " to " +
                       std::to_string(kMaxPriority) + ", got " + std::to_string(spec.priority));
    }
    if (spec.maxRetries < 0 || spec.maxRetries > kMaxRetries) {
        return invalid("max_retries: expected 0 to " + std::to_string(kMaxRetries) + ", got " +
                       std::to_string(spec.maxRetries));
    }
    for (const auto& [name, value] : spec.params) {
        if (!isValidParamName(name)) {
            return invalid("params." + name + ": names are [A-Za-z_][A-Za-z0-9_]*, at most 64");
        }
        if (value.find('\0') != std::string::npos) {
            return invalid("params." + name + ": value contains a NUL byte");
        }
    }
    if (spec.name.size() > 200) {
        return invalid("name: at most 200 characters");
    }
    if (!(spec.cpus >= 0 && spec.cpus <= kMaxCpus)) {
        return invalid("cpus: expected 0 (the default) to " +
                       std::to_string(static_cast<int>(kMaxCpus)) + ", got " +
                       std::to_string(spec.cpus));
    }
    if (spec.memoryMib > kMaxMemoryMib) {
        return invalid("memory_mib: at most " + std::to_string(kMaxMemoryMib) + " (64 TiB)");
    }
    if (spec.gpus > kMaxGpus) {
        return invalid("gpus: at most " + std::to_string(kMaxGpus));
    }
    if (spec.maxRuntimeS > options_.maxRuntimeS) {
        return invalid("max_runtime_s: at most " + std::to_string(options_.maxRuntimeS) +
                       " s on this server (worker.max_runtime_s), got " +
                       std::to_string(spec.maxRuntimeS));
    }
    if (spec.after.size() + spec.afterOk.size() > kMaxDependencies) {
        return invalid("after: at most " + std::to_string(kMaxDependencies) + " dependencies");
    }
    for (const auto& [ids, field] :
         {std::pair{&spec.after, "after"}, std::pair{&spec.afterOk, "after_ok"}}) {
        for (const auto& id : *ids) {
            auto dep = jobs_.get(id);
            if (!dep && dep.error().code == ErrorCode::NotFound) {
                return invalid(std::string(field) + ": job " + id + " does not exist");
            }
            if (!dep) {
                return dep.error();
            }
        }
    }
    return {};
}

Result<JobSpec> Scheduler::prepare(JobSpec spec) {
    if (spec.image.empty()) {
        spec.image = options_.defaultImage;
    }
    if (auto valid = validate(spec); !valid) {
        return valid.error();
    }
    if (spec.cpus == 0) {
        spec.cpus = options_.defaultCpus;
    }
    if (spec.maxRuntimeS == 0) {
        spec.maxRuntimeS = options_.maxRuntimeS;
    }
    return spec;
}

Result<Job> Scheduler::submit(JobSpec submittedSpec) {
    auto ready = prepare(std::move(submittedSpec));
    if (!ready) {
        return ready.error();
    }
    const JobSpec& spec = *ready;
    std::int64_t seq = 0;
    if (shared_) {
        auto next = shared_->nextSeq();
        if (!next) {
            return next.error();
        }
        seq = *next;
        // Into the shared queue first: a crash before the record is written leaves a job that
        // runs without an answer to its caller, never an answered job that does not run.
        if (spec.after.empty() && spec.afterOk.empty()) {
            if (auto published = shared_->publish(jobIdFromSeq(seq), spec); !published) {
                return published.error();
            }
        }
    }
    auto job = jobs_.submit(spec, seq, shared_.has_value());
    if (!job) {
        return job.error();
    }
    submitted(*job);
    dispatch();
    return job;
}

Result<std::vector<Job>> Scheduler::submitBatch(const std::vector<JobSpec>& specs) {
    if (shared_) {
        return makeError(ErrorCode::Internal, "group commit is not used with a shared queue");
    }
    auto jobs = jobs_.submitMany(specs);
    if (!jobs) {
        return jobs.error();
    }
    for (auto& job : *jobs) {
        submitted(job);
    }
    return jobs;
}

void Scheduler::submitted(Job& job) {
    log()->info("job {} {} by {} (priority {})", job.id,
                job.state == JobState::Held ? "held for its dependencies" : "queued", job.spec.user,
                job.spec.priority);
    if (changed_) {
        changed_(job);
    }
    if (job.state == JobState::Held) {
        resolveHeld(job.id);
        if (auto now = jobs_.get(job.id)) {
            job = std::move(*now);
        }
    }
}

Scheduler::DepsVerdict Scheduler::judgeDependencies(const std::vector<Dependency>& deps,
                                                    std::string& why) {
    bool waiting = false;
    for (const auto& d : deps) {
        if (!d.state) {
            if (d.okOnly) {
                why = "dependency " + d.id + " no longer exists";
                return DepsVerdict::Never;
            }
            continue;  // pruned, so it ended
        }
        if (!isTerminal(*d.state)) {
            waiting = true;
        } else if (d.okOnly && *d.state != JobState::Succeeded) {
            why = "dependency " + d.id + " " + jobStateName(*d.state);
            return DepsVerdict::Never;
        }
    }
    return waiting ? DepsVerdict::Waiting : DepsVerdict::Met;
}

void Scheduler::resolveHeld(const std::string& id) {
    auto deps = jobs_.dependencies(seqFromJobId(id));
    if (!deps) {
        log()->error("job {}: cannot read its dependencies: {}", id, deps.error().message);
        return;
    }
    std::string why;
    switch (judgeDependencies(*deps, why)) {
        case DepsVerdict::Never:
            changeState(id, JobState::Failed, {std::nullopt, why});
            break;
        case DepsVerdict::Met:
            if (shared_) {
                auto job = jobs_.get(id);
                if (!job) {
                    log()->error("job {}: {}", id, job.error().message);
                    return;
                }
                if (job->shared) {
                    if (auto published = shared_->publish(id, job->spec); !published) {
                        log()->error("job {}: dependencies met but not queued: {}", id,
                                     published.error().message);
                        return;
                    }
                }
            }
            changeState(id, JobState::Queued, {std::nullopt, "dependencies met"});
            break;
        case DepsVerdict::Waiting:
            break;
    }
}

namespace {

/// The dependencies of a spec with the states their jobs are in now.
std::vector<Dependency> dependenciesOf(JobStore& jobs, const JobSpec& spec) {
    std::vector<Dependency> deps;
    for (const auto& [ids, okOnly] : {std::pair{&spec.after, false}, {&spec.afterOk, true}}) {
        for (const auto& id : *ids) {
            auto dep = jobs.get(id);
            deps.push_back(
                Dependency{id, okOnly, dep ? std::optional<JobState>{dep->state} : std::nullopt});
        }
    }
    return deps;
}

/// What expanding a sweep needs, as JobStore::reserveSweep keeps it: {"spec": the template
/// (specToJson, its params the fixed ones), "after", "after_ok", "axes": [{"name", "values"}]}.
std::string sweepPlan(const JobSpec& templ, const std::vector<SweepAxis>& axes) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& axis : axes) {
        list.push_back({{"name", axis.name}, {"values", axis.values}});
    }
    return nlohmann::json{{"spec", specToJson(templ)},
                          {"after", templ.after},
                          {"after_ok", templ.afterOk},
                          {"axes", std::move(list)}}
        .dump();
}

/// The jobs of a plan (sweepPlan): the template once per combination, in sweep order.
Result<std::vector<JobSpec>> specsOfPlan(const std::string& text) {
    auto plan = nlohmann::json::parse(text, nullptr, false);
    if (plan.is_discarded() || !plan.is_object()) {
        return makeError(ErrorCode::Internal, "the sweep's plan is not a JSON object");
    }
    auto templ = specFromJson(plan.value("spec", nlohmann::json()));
    if (!templ) {
        return templ.error();
    }
    std::vector<SweepAxis> axes;
    try {
        templ->after = plan.at("after").get<std::vector<std::string>>();
        templ->afterOk = plan.at("after_ok").get<std::vector<std::string>>();
        for (const auto& axis : plan.at("axes")) {
            axes.push_back(SweepAxis{axis.at("name").get<std::string>(),
                                     axis.at("values").get<std::vector<std::string>>()});
        }
    } catch (const nlohmann::json::exception& e) {
        return makeError(ErrorCode::Internal, std::string("the sweep's plan: ") + e.what());
    }
    auto combos = expandSweep(templ->params, axes);
    if (!combos) {
        return combos.error();
    }
    std::vector<JobSpec> specs(combos->size(), *templ);
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs[i].params = std::move((*combos)[i]);
    }
    return specs;
}

}  // namespace

Result<SweepRecord> Scheduler::submitSweep(JobSpec templ, const std::vector<SweepAxis>& axes) {
    if (templ.image.empty()) {
        templ.image = options_.defaultImage;
    }
    // The defaults submit() fills in, once for every job (validate accepts them).
    if (templ.cpus == 0) {
        templ.cpus = options_.defaultCpus;
    }
    if (templ.maxRuntimeS == 0) {
        templ.maxRuntimeS = options_.maxRuntimeS;
    }
    auto combos = expandSweep(templ.params, axes);
    if (!combos) {
        return combos.error();
    }
    // Every job differs only in parameter values: validating the first validates the names,
    // the commit, the dependencies and the rest once (expandSweep checked every value).
    JobSpec first = templ;
    first.params = combos->front();
    if (auto valid = validate(first); !valid) {
        return valid.error();
    }
    // Dependencies are the same for every job: judged once, so a sweep whose dependencies are
    // met is stored queued rather than held and released job by job.
    std::string why;
    const DepsVerdict verdict = judgeDependencies(dependenciesOf(jobs_, templ), why);
    const bool queued = verdict == DepsVerdict::Met;
    if (!shared_) {
        // One row now; the jobs right after the answer (expandPendingSweeps).
        const std::string plan = sweepPlan(templ, axes);
        auto sweep =
            jobs_.reserveSweep(templ.user, static_cast<std::int64_t>(combos->size()), plan);
        if (!sweep) {
            return sweep.error();
        }
        sweep->state = verdict == DepsVerdict::Never ? JobState::Failed  // at expansion
                       : queued                      ? JobState::Queued
                                                     : JobState::Held;
        log()->info("sweep {} by {}: {} jobs {} (priority {})", sweep->id, templ.user, sweep->size,
                    queued ? "queued" : "held for their dependencies", templ.priority);
        sweepsPending_ = true;
        if (sweepPending_) {
            sweepPending_();
            return sweep;
        }
        // No loop (tests, tools): at once. The sweep is durable already: if its jobs cannot be
        // stored now it stays pending (expandPendingSweeps) rather than being answered as
        // failed, which would invite a second, duplicate sweep.
        auto expanded = expandSweepPlan(*sweep, plan);
        if (!expanded) {
            log()->error("sweep {}: its {} jobs are not stored yet: {}", sweep->id, sweep->size,
                         expanded.error().message);
            return sweep;
        }
        dispatch();
        return expanded;
    }
    std::vector<JobSpec> specs(combos->size(), templ);
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs[i].params = std::move((*combos)[i]);
    }
    // Ids from the shared queue, then every queued job into it before the records exist (as
    // submit() does).
    std::vector<std::int64_t> seqs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        auto next = shared_->nextSeq();
        if (!next) {
            return next.error();
        }
        seqs.push_back(*next);
    }
    for (std::size_t i = 0; queued && i < specs.size(); ++i) {
        if (auto published = shared_->publish(jobIdFromSeq(seqs[i]), specs[i]); !published) {
            return published.error();
        }
    }
    const bool hasDeps = !templ.after.empty() || !templ.afterOk.empty();
    auto sweep = jobs_.submitSweep(specs, queued ? JobState::Queued : JobState::Held,
                                   queued && hasDeps ? "dependencies met" : "", seqs);
    if (!sweep) {
        return sweep.error();
    }
    log()->info("sweep {} by {}: {} jobs {} (priority {})", sweep->id, templ.user,
                sweep->jobs.size(), queued ? "queued" : "held for their dependencies",
                templ.priority);
    announceSweep(*sweep, verdict);
    dispatch();
    return sweep;
}

void Scheduler::announceSweep(SweepRecord& sweep, DepsVerdict verdict) {
    for (auto& job : sweep.jobs) {
        if (changed_) {
            changed_(job);
        }
        if (verdict == DepsVerdict::Never) {
            resolveHeld(job.id);  // rare: fails each job with the reason, as submit() does
            if (auto now = jobs_.get(job.id)) {
                job = std::move(*now);
            }
        }
    }
    if (!sweep.jobs.empty()) {
        sweep.state = sweep.jobs.front().state;
    }
}

Result<SweepRecord> Scheduler::expandSweepPlan(const SweepRecord& pending,
                                               const std::string& plan) {
    auto specs = specsOfPlan(plan);
    if (!specs) {
        return specs.error();
    }
    // Judged again: a dependency may have ended since the sweep was accepted, and its jobs
    // had no rows yet to be released by it.
    std::string why;
    const std::vector<Dependency> deps = dependenciesOf(jobs_, specs->front());
    const DepsVerdict verdict = judgeDependencies(deps, why);
    const bool queued = verdict == DepsVerdict::Met;
    auto sweep = jobs_.expandSweep(pending, *specs, queued ? JobState::Queued : JobState::Held,
                                   queued && !deps.empty() ? "dependencies met" : "");
    if (!sweep) {
        return sweep.error();
    }
    announceSweep(*sweep, verdict);
    return sweep;
}

void Scheduler::expandPendingSweeps() {
    if (!sweepsPending_) {
        return;
    }
    auto pending = jobs_.pendingSweeps();
    if (!pending) {
        log()->error("accepted sweeps not expanded yet: {}", pending.error().message);
        return;
    }
    bool failed = false;
    for (const auto& [sweep, plan] : *pending) {
        // Runs before every bus call and from a defer source: nothing may escape from here.
        std::string why;
        try {
            if (auto expanded = expandSweepPlan(sweep, plan); !expanded) {
                why = expanded.error().message;
            }
        } catch (const std::exception& e) {
            why = e.what();
        }
        if (!why.empty()) {
            log()->error("sweep {}: its {} jobs are not stored yet: {}", sweep.id, sweep.size, why);
            failed = true;
        }
    }
    sweepsPending_ = failed;
    if (!pending->empty()) {
        dispatch();
    }
}

Result<SweepCancel> Scheduler::cancelSweep(const SweepRecord& sweep) {
    SweepCancel out;
    auto cancelled = jobs_.cancelWaiting(sweep.seq);
    if (!cancelled) {
        return cancelled.error();
    }
    out.cancelled = std::move(*cancelled);
    log()->info("sweep {}: {} waiting jobs cancelled", sweep.id, out.cancelled.size());
    for (const auto& id : out.cancelled) {
        auto job = jobs_.get(id);
        if (job && job->shared && shared_) {
            if (auto asked = shared_->requestCancel(id); !asked) {
                log()->error("job {}: cancel not passed to the other hosts: {}", id,
                             asked.error().message);
            }
        }
        if (job && changed_) {
            changed_(*job);
        }
        releaseDependents(id);
    }
    auto members = jobs_.sweepMembers(sweep.seq);
    if (!members) {
        return members.error();
    }
    for (const auto& [id, state] : *members) {
        if (state != JobState::Starting && state != JobState::Running && state != JobState::Lost) {
            continue;
        }
        auto asked = cancel(id);
        if (asked) {
            // A lost job is ended at once (failed, reason cancelled); others stop later.
            (state == JobState::Lost ? out.cancelled : out.stopping).push_back(id);
        } else if (!asked && asked.error().code == ErrorCode::Busy) {
            out.unreachable.push_back(id);
        } else if (!asked) {
            log()->warn("sweep {}: job {} not cancelled: {}", sweep.id, id, asked.error().message);
        }
    }
    dispatch();
    return out;
}

void Scheduler::releaseDependents(const std::string& id) {
    auto dependents = jobs_.heldDependents(id);
    if (!dependents) {
        log()->error("job {}: cannot read its dependents: {}", id, dependents.error().message);
        return;
    }
    for (const auto& dependent : *dependents) {
        resolveHeld(dependent);
    }
}

Result<Job> Scheduler::cancel(const std::string& id) {
    auto job = jobs_.get(id);
    if (!job) {
        return job.error();
    }
    if (isTerminal(job->state)) {
        return makeError(ErrorCode::InvalidArgument,
                         "id: job " + id + " has already ended (" + jobStateName(job->state) + ")");
    }
    if (job->shared && shared_) {
        // In the shared queue or run by another host: whoever holds it cancels it.
        if (auto asked = shared_->requestCancel(id); !asked) {
            return asked.error();
        }
        if (job->state == JobState::Starting || job->state == JobState::Running) {
            log()->info("job {}: cancel asked of {}", id, job->host);
            return job;
        }
    }
    if (job->state == JobState::Queued || job->state == JobState::Held ||
        job->state == JobState::Lost) {
        JobState to = job->state == JobState::Lost ? JobState::Failed : JobState::Cancelled;
        auto done = jobs_.transition(id, to, {std::nullopt, "cancelled"});
        if (done && changed_) {
            changed_(*done);
        }
        if (done) {
            releaseDependents(id);
            dispatch();
        }
        return done;
    }
    if (!connected_ || !send_ || !send_({{"type", "cancel"}, {"id", id}})) {
        return makeError(ErrorCode::Busy,
                         "job " + id + " runs but the worker is not connected; try again");
    }
    log()->info("job {}: cancel sent to the worker", id);
    return job;
}

bool Scheduler::changeState(const std::string& id, JobState to, const TransitionFields& fields) {
    auto job = jobs_.transition(id, to, fields);
    if (!job) {
        log()->warn("job {}: {}", id, job.error().message);
        return false;
    }
    log()->info("job {} is {}{}{}", id, jobStateName(to), fields.reason.empty() ? "" : ": ",
                fields.reason);
    if (changed_) {
        changed_(*job);
    }
    if (isTerminal(to)) {
        releaseDependents(id);
    }
    return true;
}

void Scheduler::workerConnected(const WorkerCapacity& capacity,
                                const std::vector<std::string>& running,
                                const std::vector<std::string>& finished) {
    connected_ = true;
    capacity_ = capacity;
    std::set<std::string> listed(running.begin(), running.end());
    // Ended while we were away (or before we recorded it): their `exited` comes next.
    std::set<std::string> ended(finished.begin(), finished.end());
    active_.clear();
    auto ours = jobs_.inStates({JobState::Starting, JobState::Running});
    if (!ours) {
        log()->error("cannot reconcile with the worker: {}", ours.error().message);
        return;
    }
    for (const auto& job : *ours) {
        if (ended.count(job.id) != 0) {
            continue;
        }
        if (listed.count(job.id) == 0) {
            failOrRetry(job.id, job.exitCode, "lost");
            continue;
        }
        // It holds what it was given since it started (at most its maximum run time).
        const std::int64_t since = job.startedAt != 0 ? job.startedAt : jobs_.now();
        active_[job.id] = Allocation{requestOf(job), job.devices,
                                     since + std::int64_t{job.spec.maxRuntimeS} * 1000};
        if (job.state == JobState::Starting) {
            changeState(job.id, JobState::Running, {});
        }
    }
    for (const auto& id : listed) {
        if (active_.count(id) == 0) {
            log()->warn("worker runs {} which is not ours to run; cancelling it", id);
            if (send_) {
                send_({{"type", "cancel"}, {"id", id}});
            }
        }
    }
    log()->info(
        "worker connected: {} slots, {} CPUs, {} MiB, {} GPUs; {} of our jobs still "
        "running",
        capacity.slots, capacity.cpus, capacity.memoryMib, capacity.gpus.size(), active_.size());
    dispatch();
}

void Scheduler::workerDisconnected() {
    connected_ = false;
    tooBig_.clear();
    capacity_ = {};
    reservation_.reset();
}

void Scheduler::jobStarted(const std::string& id) {
    auto job = jobs_.get(id);
    if (job && job->state == JobState::Starting) {
        changeState(id, JobState::Running, {});
    }
}

void Scheduler::jobMetric(const std::string& id, std::int64_t step,
                          const std::map<std::string, double>& values) {
    if (auto stored = jobs_.addMetrics(id, step, values); !stored) {
        log()->warn("job {}: metric not stored: {}", id, stored.error().message);
    }
}

bool Scheduler::jobExited(const std::string& id, const ExitReport& report) {
    active_.erase(id);
    auto job = jobs_.get(id);
    if (!job && job.error().code != ErrorCode::NotFound) {
        log()->error("job {}: exit report not recorded: {}", id, job.error().message);
        return false;
    }
    if (!job || isTerminal(job->state) || job->shared) {
        // A report repeated after a restart of either side: already recorded; or a job whose
        // claim went to another host.
        log()->info("job {}: exit reported again for an unknown or finished job", id);
        dispatch();
        return true;
    }
    std::int32_t code = report.signal != 0 ? 128 + report.signal : report.exitCode;
    JobState to = JobState::Failed;
    if (report.reason == "cancelled") {
        to = JobState::Cancelled;
    } else if (report.reason == "exited" && code == 0) {
        to = JobState::Succeeded;
    }
    std::string reason = report.reason.empty() ? "exited" : report.reason;
    if (!report.message.empty() && report.message != reason) {
        reason += ": " + report.message;
    }
    ingestResults(id);
    bool recorded = to == JobState::Failed ? failOrRetry(id, code, reason)
                                           : changeState(id, to, {code, reason});
    dispatch();
    return recorded;
}

std::int64_t Scheduler::retryDelayMs(std::uint32_t retryDelayS, std::int32_t attempt) {
    const int doublings = std::clamp(attempt - 1, 0, 6);
    return std::int64_t{retryDelayS} * 1000 * (std::int64_t{1} << doublings);
}

bool Scheduler::failOrRetry(const std::string& id, std::int32_t exitCode,
                            const std::string& reason) {
    auto job = jobs_.get(id);
    if (!job) {
        log()->warn("job {}: {}", id, job.error().message);
        return false;
    }
    if (job->attempt > job->spec.maxRetries) {
        return changeState(id, JobState::Failed, {exitCode, reason});
    }
    const std::int64_t delay = retryDelayMs(options_.retryDelayS, job->attempt);
    const std::string why = "retry " + std::to_string(job->attempt) + " of " +
                            std::to_string(job->spec.maxRetries) + " in " +
                            std::to_string(delay / 1000) + " s after: " + reason;
    auto queued = jobs_.retry(id, exitCode, why, delay);
    if (!queued) {
        log()->warn("job {}: {}", id, queued.error().message);
        return false;
    }
    log()->info("job {} is queued again: {}", id, why);
    if (changed_) {
        changed_(*queued);
    }
    return true;
}

void Scheduler::ingestResults(const std::string& id) {
    std::string dir = runDir(id) + "/results";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        return;
    }
    auto manifest = TreeIo::ingest(dir, store_);
    if (!manifest) {
        log()->error("job {}: results not ingested: {}", id, manifest.error().message);
        return;
    }
    std::string tree = manifest->commitId();
    auto recorded = jobs_.putCommit(tree, manifest->text(), "results", "");
    if (recorded) {
        recorded = jobs_.setResults(id, tree);
    }
    if (!recorded) {
        log()->error("job {}: results tree not recorded: {}", id, recorded.error().message);
        return;
    }
    log()->info("job {}: results {} ({} files)", id, tree, manifest->entries().size());
}

Result<void> Scheduler::prepareRunDir(const Job& job) {
    auto text = jobs_.getCommit(job.spec.commit);
    if (!text) {
        return text.error();
    }
    if (!*text) {
        return makeError(ErrorCode::NotFound, "commit " + job.spec.commit + " is not recorded");
    }
    auto manifest = Manifest::parse(**text);
    if (!manifest) {
        return manifest.error();
    }
    std::string dir = runDir(job.id);
    std::error_code ec;
    std::filesystem::create_directories(options_.runsDir, ec);
    if (std::filesystem::exists(dir, ec)) {
        // An earlier attempt's directory (or a half-made one from before a crash) is kept
        // aside, not deleted: it holds that attempt's log and results, and the job's own users
        // may have made files in it that fetchmld could not delete anyway.
        std::string aside =
            job.attempt > 1 ? dir + ".attempt" + std::to_string(job.attempt - 1) : dir + ".stale";
        std::filesystem::remove_all(aside, ec);  // best effort: an older stale one
        if (::rename(dir.c_str(), aside.c_str()) != 0) {
            return makeError(ErrorCode::Internal,
                             "cannot move the earlier run directory " + dir +
                                 " aside: " + std::generic_category().message(errno));
        }
    }
    // 2770, group fetchml: the worker writes into it. Under the unit, runs/ is setgid
    // (fetchml.tmpfiles) and the new directory inherits the bit; setting it ourselves would be
    // refused there (RestrictSUIDSGID=), so chmod only when something is missing.
    struct stat st {};
    if (::mkdir(dir.c_str(), 0770) != 0 || ::stat(dir.c_str(), &st) != 0 ||
        ((st.st_mode & 07777) != 02770 && ::chmod(dir.c_str(), 02770) != 0)) {
        return makeError(ErrorCode::Internal, "cannot create run directory " + dir + ": " +
                                                  std::generic_category().message(errno));
    }
    if (auto code = TreeIo::materialize(*manifest, store_, dir + "/code"); !code) {
        return code;
    }
    // <run>/data holds an empty directory per dataset: the worker mounts it read-only at
    // /workspace/data and each copy on its directory, so no mount point has to be made inside
    // the image or root file system (which a rootless runtime may not write). 0755 set
    // explicitly, as TreeIo does for code: the umask would leave the job's user out.
    auto mountPoint = [](const std::string& path) -> Result<void> {
        if (::mkdir(path.c_str(), 0755) != 0 || ::chmod(path.c_str(), 0755) != 0) {
            return makeError(ErrorCode::Internal, "cannot create " + path + ": " +
                                                      std::generic_category().message(errno));
        }
        return {};
    };
    if (!job.spec.data.empty()) {
        if (auto made = mountPoint(dir + "/data"); !made) {
            return made;
        }
        for (const auto& data : job.spec.data) {
            if (auto made = mountPoint(dir + "/data/" + data.name); !made) {
                return made;
            }
        }
    }
    for (const auto& data : job.spec.data) {
        auto dataText = jobs_.getCommit(data.tree);
        if (!dataText) {
            return dataText.error();
        }
        if (!*dataText) {
            return makeError(ErrorCode::NotFound, "dataset " + data.name + "@" +
                                                      std::to_string(data.version) + " (tree " +
                                                      data.tree + ") is not recorded");
        }
        if (auto copy = checkouts_.ensure(data.tree, **dataText); !copy) {
            return makeError(copy.error().code, "dataset " + data.name + "@" +
                                                    std::to_string(data.version) + ": " +
                                                    copy.error().message);
        }
    }
    return {};
}

nlohmann::json Scheduler::runMessage(const Job& job,
                                     const std::vector<std::string>& devices) const {
    nlohmann::json env = nlohmann::json::object();
    env["FETCHML_JOB_ID"] = job.id;
    env["FETCHML_ATTEMPT"] = std::to_string(job.attempt);
    env["FETCHML_PARAMS"] = nlohmann::json(job.spec.params).dump();
    for (const auto& [name, value] : job.spec.params) {
        env["FETCHML_PARAM_" + name] = value;
    }
    if (!job.spec.data.empty()) {
        std::string list;  // "mnist@2,imdb@1": what /workspace/data holds
        for (const auto& name : dataNames(job.spec.data)) {
            list += (list.empty() ? "" : ",") + name;
        }
        env["FETCHML_DATA"] = list;
    }
    if (!devices.empty()) {
        std::string list;
        for (const auto& device : devices) {
            list += (list.empty() ? "" : ",") + device;
        }
        env["FETCHML_GPUS"] = list;
    }
    nlohmann::json data = nlohmann::json::array();
    for (const auto& d : job.spec.data) {
        data.push_back({{"name", d.name}, {"dir", checkouts_.dirOf(d.tree)}});
    }
    return {{"type", "run"},
            {"job",
             {{"id", job.id},
              {"data", data},
              {"image", job.spec.image},
              {"command", job.spec.command},
              {"env", env},
              {"run_dir", runDir(job.id)},
              {"cpus", job.spec.cpus},
              {"memory_mib", job.spec.memoryMib},
              {"gpus", devices},
              {"pids_limit", options_.pidsLimit},
              {"max_runtime_s",
               job.spec.maxRuntimeS != 0 ? job.spec.maxRuntimeS : options_.maxRuntimeS}}}};
}

std::uint32_t Scheduler::room() {
    auto waiting = jobs_.dispatchableCount();
    if (!waiting) {
        log()->error("cannot count the queue: {}", waiting.error().message);
        return 0;
    }
    std::int64_t stuck = 0;  // claimed here, too big for this worker: they hold no slot
    for (const auto& id : tooBig_) {
        auto job = jobs_.get(id);
        stuck += job && job->state == JobState::Queued && !job->shared ? 1 : 0;
    }
    const std::int64_t slots = connected_ ? std::int64_t{capacity_.slots} : 1;
    const std::int64_t busy = static_cast<std::int64_t>(active_.size()) + *waiting - stuck;
    return busy >= slots ? 0 : static_cast<std::uint32_t>(slots - busy);
}

void Scheduler::yieldClaim(const std::string& id, const std::string& host) {
    const bool running = active_.erase(id) != 0;
    if (running && connected_ && send_) {
        send_({{"type", "cancel"}, {"id", id}});
    }
    auto job = jobs_.yieldClaim(id, host, "lost its claim: another host runs it");
    if (!job) {
        log()->error("job {}: {}", id, job.error().message);
        return;
    }
    log()->warn("job {}: its shared-queue lease ran out and another host took it{}", id,
                running ? "; stopping it here" : "");
    if (changed_) {
        changed_(*job);
    }
}

void Scheduler::mirrored(const Job& job) {
    if (changed_) {
        changed_(job);
    }
    if (isTerminal(job.state)) {
        releaseDependents(job.id);
    }
}

bool Scheduler::hasWork() {
    if (!active_.empty()) {
        return true;
    }
    auto next = jobs_.nextQueued();
    if (!next || *next) {
        return true;
    }
    auto ours = jobs_.inStates({JobState::Starting, JobState::Running});
    return !ours || !ours->empty();
}

void Scheduler::age() {
    auto aged = jobs_.age(kMaxPriority);
    if (!aged) {
        log()->warn("aging failed: {}", aged.error().message);
        return;
    }
    log()->debug("aging: {} queued jobs gained a priority point", *aged);
}

void Scheduler::armWakeup() {
    if (!wakeup_) {
        return;
    }
    auto at = jobs_.nextNotBefore();
    if (!at) {
        log()->warn("cannot read when the next retry is due: {}", at.error().message);
    } else if (*at) {
        wakeup_(**at);
    }
}

Scheduler::Waiting Scheduler::waiting(const Job& job) const {
    if (job.state != JobState::Queued) {
        return {};
    }
    if (job.notBefore > jobs_.now()) {
        return {"retry backoff", job.notBefore};
    }
    if (job.shared) {
        return {job.host.empty() ? "in the shared queue: the first host with room takes it"
                                 : "claimed by " + job.host,
                0};
    }
    if (!connected_) {
        return {"no worker connected (it is started on demand)", 0};
    }
    if (tooBig_.count(job.id) != 0) {
        std::ostringstream has;
        has << capacity_.slots << " slots, " << capacity_.cpus << " CPUs, " << capacity_.memoryMib
            << " MiB, " << capacity_.gpus.size() << " GPUs";
        return {"more than the worker has (" + has.str() + "): it cannot start there", 0};
    }
    if (reservation_ && reservation_->id == job.id) {
        return {"resources: reserved start", reservation_->atMs};
    }
    return {"its turn: other jobs go first, or there is no room yet", 0};
}

ResourceRequest Scheduler::requestOf(const Job& job) const {
    const std::uint32_t runtimeS =
        job.spec.maxRuntimeS != 0 ? job.spec.maxRuntimeS : options_.maxRuntimeS;
    return {job.id,        job.spec.user,
            job.spec.cpus, job.spec.memoryMib,
            job.spec.gpus, std::int64_t{runtimeS} * 1000};
}

Scheduler::StartResult Scheduler::start(const Job& job, const std::vector<std::string>& devices) {
    auto starting = jobs_.transition(job.id, JobState::Starting, {}, devices);
    if (!starting) {
        log()->error("job {}: {}", job.id, starting.error().message);
        return StartResult::Stop;
    }
    if (changed_) {
        changed_(*starting);
    }
    if (auto prepared = prepareRunDir(job); !prepared) {
        changeState(job.id, JobState::Failed, {-1, "error: " + prepared.error().message});
        return StartResult::Failed;
    }
    if (!send_(runMessage(*starting, devices))) {
        // The connection dropped under us: reconciliation on reconnect marks it lost.
        log()->warn("job {}: worker went away while starting it", job.id);
        return StartResult::Stop;
    }
    ResourceRequest request = requestOf(*starting);
    const std::int64_t endsAt = jobs_.now() + request.runtimeMs;
    active_[job.id] = Allocation{std::move(request), devices, endsAt};
    std::string gpus;
    for (const auto& device : devices) {
        gpus += (gpus.empty() ? " on " : ",") + device;
    }
    log()->info("job {} sent to the worker ({} CPUs, {} MiB{}; {} of {} slots busy)", job.id,
                job.spec.cpus, job.spec.memoryMib, gpus, active_.size(), capacity_.slots);
    return StartResult::Started;
}

void Scheduler::dispatch() {
    if (!connected_) {
        if (wanted_ && hasWork()) {
            wanted_();
        }
        return;
    }
    // Each pass reads the first backfillDepth queued jobs once; another pass follows only when
    // a job failed before the worker got it (its resources are free again). A full worker
    // reads nothing: a job's end calls dispatch() again.
    bool again = true;
    while (again && connected_ && send_ && active_.size() < capacity_.slots) {
        again = false;
        auto queued = jobs_.queuedCandidates(options_.backfillDepth, options_.maxRunningPerUser);
        if (!queued) {
            log()->error("cannot read the queue: {}", queued.error().message);
            return;
        }
        std::vector<ResourceRequest> requests;
        std::map<std::string, const Job*> byId;
        for (const auto& job : *queued) {
            requests.push_back(requestOf(job));
            byId[job.id] = &job;
        }
        std::vector<Allocation> running;
        for (const auto& [id, allocation] : active_) {
            running.push_back(allocation);
        }
        Placement placement(capacity_, std::move(running), options_.maxRunningPerUser, jobs_.now());
        auto starts = placement.plan(requests);
        if (placement.reservation() &&
            (!reservation_ || reservation_->id != placement.reservation()->id)) {
            log()->info("job {} waits for resources; reserved to start by {} ms from now",
                        placement.reservation()->id, placement.reservation()->atMs - jobs_.now());
        }
        reservation_ = placement.reservation();
        for (const auto& id : placement.neverFit()) {
            if (tooBig_.insert(id).second) {
                const Job& job = *byId[id];
                log()->warn(
                    "job {} asks for {} CPUs, {} MiB and {} GPUs, more than the worker "
                    "has ({} CPUs, {} MiB, {} GPUs); it stays queued",
                    id, job.spec.cpus, job.spec.memoryMib, job.spec.gpus, capacity_.cpus,
                    capacity_.memoryMib, capacity_.gpus.size());
            }
        }
        if (starts.empty()) {
            // Nothing due fits or nothing is due: a retry's backoff may end first.
            armWakeup();
            return;
        }
        for (const auto& start : starts) {
            auto started = this->start(*byId[start.id], start.devices);
            if (started == StartResult::Stop) {
                return;
            }
            again = again || started == StartResult::Failed;
        }
    }
}

}  // namespace fetchml
