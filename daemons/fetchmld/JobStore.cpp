#include "JobStore.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

namespace fetchml {

namespace {

constexpr const char* kJobColumns =
    "seq, name, user, state, commit_id, command, image, priority, params, exit_code, reason, "
    "submitted_at, started_at, finished_at, results, max_retries, attempt, not_before, "
    "eff_priority, cpus, memory_mib, gpus, max_runtime_s, devices, sweep_seq, shared, claim, "
    "origin, host, data";

Job rowToJob(const Statement& row) {
    Job job;
    job.seq = row.int64(0);
    job.id = jobIdFromSeq(job.seq);
    job.spec.name = row.text(1);
    job.spec.user = row.text(2);
    job.state = parseJobState(row.text(3)).value_or(JobState::Failed);
    job.spec.commit = row.text(4);
    auto command = nlohmann::json::parse(row.text(5), nullptr, false);
    if (command.is_array()) {
        for (const auto& arg : command) {
            job.spec.command.push_back(arg.is_string() ? arg.get<std::string>() : "");
        }
    }
    job.spec.image = row.text(6);
    job.spec.priority = static_cast<std::int32_t>(row.int64(7));
    auto params = nlohmann::json::parse(row.text(8), nullptr, false);
    if (params.is_object()) {
        for (const auto& [key, value] : params.items()) {
            job.spec.params[key] = value.is_string() ? value.get<std::string>() : "";
        }
    }
    job.exitCode = static_cast<std::int32_t>(row.int64(9));
    job.reason = row.text(10);
    job.submittedAt = row.int64(11);
    job.startedAt = row.int64(12);
    job.finishedAt = row.int64(13);
    job.results = row.text(14);
    job.spec.maxRetries = static_cast<std::int32_t>(row.int64(15));
    job.attempt = static_cast<std::int32_t>(row.int64(16));
    job.notBefore = row.int64(17);
    job.effectivePriority = static_cast<std::int32_t>(row.int64(18));
    job.spec.cpus = row.real(19);
    job.spec.memoryMib = static_cast<std::uint64_t>(row.int64(20));
    job.spec.gpus = static_cast<std::uint32_t>(row.int64(21));
    job.spec.maxRuntimeS = static_cast<std::uint32_t>(row.int64(22));
    auto devices = nlohmann::json::parse(row.text(23), nullptr, false);
    if (devices.is_array()) {
        for (const auto& device : devices) {
            if (device.is_string()) {
                job.devices.push_back(device.get<std::string>());
            }
        }
    }
    job.sweepSeq = row.int64(24);
    job.shared = row.int64(25) != 0;
    job.claim = row.text(26);
    job.origin = row.text(27);
    job.host = row.text(28);
    job.spec.data = dataFromJson(nlohmann::json::parse(row.text(29), nullptr, false));
    return job;
}

Error notFound(const std::string& id) {
    return makeError(ErrorCode::NotFound, "job " + id + " does not exist");
}

}  // namespace

std::int64_t wallClockMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Result<Job> JobStore::submit(const JobSpec& spec, std::int64_t explicitSeq, bool shared) {
    std::int64_t seq = 0;
    // A job with dependencies waits held until the scheduler releases it.
    const JobState initial =
        spec.after.empty() && spec.afterOk.empty() ? JobState::Queued : JobState::Held;
    auto done = db_.transaction([&]() -> Result<void> {
        auto inserted = insertJob(spec, initial, "", 0, clock_(), explicitSeq, shared);
        if (!inserted) {
            return inserted.error();
        }
        seq = *inserted;
        return {};
    });
    if (!done) {
        return done.error();
    }
    return load(seq);
}

Result<std::vector<Job>> JobStore::submitMany(const std::vector<JobSpec>& specs) {
    std::vector<Job> out;
    out.reserve(specs.size());
    const std::int64_t now = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        for (const auto& spec : specs) {
            const JobState initial =
                spec.after.empty() && spec.afterOk.empty() ? JobState::Queued : JobState::Held;
            auto seq = insertJob(spec, initial, "", 0, now);
            if (!seq) {
                return seq.error();
            }
            // Read back before COMMIT: a failed read rolls the batch back instead of
            // answering "failed" for jobs that were stored.
            auto job = load(*seq);
            if (!job) {
                return job.error();
            }
            out.push_back(std::move(*job));
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return out;
}

Result<std::int64_t> JobStore::insertJob(const JobSpec& spec, JobState initial,
                                         const std::string& reason, std::int64_t sweepSeq,
                                         std::int64_t now, std::int64_t explicitSeq, bool shared) {
    // seq NULL: the next rowid (one host); else the id the shared queue gave the job.
    auto stmt = db_.prepare(
        "INSERT INTO jobs (seq, name, user, state, commit_id, command, image, priority, params, "
        "submitted_at, max_retries, eff_priority, sweep_seq, cpus, memory_mib, gpus, "
        "max_runtime_s, shared, data) VALUES (?16, ?1, ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?6, "
        "?11, ?12, ?13, ?14, ?15, ?17, ?18)");
    if (!stmt) {
        return stmt.error();
    }
    nlohmann::json params(spec.params);
    (*stmt)
        ->bind(1, spec.name)
        .bind(2, spec.user)
        .bind(3, spec.commit)
        .bind(4, nlohmann::json(spec.command).dump())
        .bind(5, spec.image)
        .bind(6, static_cast<std::int64_t>(spec.priority))
        .bind(7, params.dump())
        .bind(8, now)
        .bind(9, static_cast<std::int64_t>(spec.maxRetries))
        .bind(10, std::string(jobStateName(initial)))
        .bind(11, sweepSeq)
        .bind(12, spec.cpus)
        .bind(13, static_cast<std::int64_t>(spec.memoryMib))
        .bind(14, std::int64_t{spec.gpus})
        .bind(15, std::int64_t{spec.maxRuntimeS})
        .bind(17, std::int64_t{shared})
        .bind(18, dataToJson(spec.data).dump());
    if (explicitSeq > 0) {
        (*stmt)->bind(16, explicitSeq);
    } else {
        (*stmt)->bindNull(16);
    }
    if (auto r = (*stmt)->run(); !r) {
        return r.error();
    }
    const std::int64_t seq = db_.lastInsertRowid();
    for (const auto& [ids, kind] :
         {std::pair{&spec.after, "after"}, std::pair{&spec.afterOk, "after_ok"}}) {
        for (const auto& dep : *ids) {
            auto d = db_.prepare(
                "INSERT OR REPLACE INTO job_deps (job_seq, dep_seq, kind) VALUES (?, ?, ?)");
            if (!d) {
                return d.error();
            }
            if (auto r = (*d)->bind(1, seq).bind(2, seqFromJobId(dep)).bind(3, kind).run(); !r) {
                return r.error();
            }
        }
    }
    if (auto r = insertEvent(seq, now, "", jobStateName(initial), reason); !r) {
        return r.error();
    }
    return seq;
}

Result<SweepRecord> JobStore::submitSweep(const std::vector<JobSpec>& specs, JobState initial,
                                          const std::string& reason,
                                          const std::vector<std::int64_t>& seqs) {
    if (!seqs.empty() && seqs.size() != specs.size()) {
        return makeError(ErrorCode::Internal, "sweep: one job id per job expected");
    }
    if (specs.empty()) {
        return makeError(ErrorCode::InvalidArgument, "sweep: no jobs");
    }
    const std::int64_t now = clock_();
    SweepRecord sweep;
    sweep.user = specs.front().user;
    sweep.size = static_cast<std::int64_t>(specs.size());
    sweep.createdAt = now;
    sweep.state = initial;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare("INSERT INTO sweeps (user, size, created_at) VALUES (?, ?, ?)");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, sweep.user).bind(2, sweep.size).bind(3, now).run(); !r) {
            return r;
        }
        sweep.seq = db_.lastInsertRowid();
        return insertSweepJobs(
            sweep, specs, initial, reason,
            [&seqs](std::size_t i) { return seqs.empty() ? std::int64_t{0} : seqs[i]; },
            !seqs.empty());
    });
    if (!done) {
        sweep.jobs.clear();
        return done.error();
    }
    sweep.id = sweepIdFromSeq(sweep.seq);
    return sweep;
}

Result<void> JobStore::insertSweepJobs(SweepRecord& sweep, const std::vector<JobSpec>& specs,
                                       JobState initial, const std::string& reason,
                                       const std::function<std::int64_t(std::size_t)>& seqOf,
                                       bool shared) {
    sweep.jobs.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const JobSpec& spec = specs[i];
        const std::int64_t explicitSeq = seqOf(i);
        auto seq =
            insertJob(spec, initial, reason, sweep.seq, sweep.createdAt, explicitSeq, shared);
        if (!seq) {
            return seq.error();
        }
        // The row as inserted, without reading it back (a sweep may have 10,000 jobs).
        Job job;
        job.seq = *seq;
        job.id = jobIdFromSeq(*seq);
        job.spec = spec;
        job.state = initial;
        job.submittedAt = sweep.createdAt;
        job.effectivePriority = spec.priority;
        job.sweepSeq = sweep.seq;
        job.shared = shared;
        sweep.jobs.push_back(std::move(job));
    }
    return {};
}

Result<SweepRecord> JobStore::reserveSweep(const std::string& user, std::int64_t size,
                                           const std::string& plan) {
    if (size < 1 || plan.empty()) {
        return makeError(ErrorCode::InvalidArgument, "sweep: no jobs or no plan");
    }
    SweepRecord sweep;
    sweep.user = user;
    sweep.size = size;
    sweep.createdAt = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        // After every id used or reserved (maxSeq: the rows, the AUTOINCREMENT counter, the
        // pending sweeps); then the counter is raised past the range so no later job takes one
        // of them (SQLite's "Autoincrement" documentation: sqlite_sequence may be changed with
        // ordinary UPDATE and INSERT).
        auto last = maxSeq();
        if (!last) {
            return last.error();
        }
        sweep.firstSeq = *last + 1;
        const std::int64_t end = sweep.firstSeq + size - 1;
        auto raise = db_.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'");
        if (!raise) {
            return raise.error();
        }
        if (auto r = (*raise)->bind(1, end).run(); !r) {
            return r;
        }
        if (db_.changes() == 0) {
            auto first = db_.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)");
            if (!first) {
                return first.error();
            }
            if (auto r = (*first)->bind(1, end).run(); !r) {
                return r;
            }
        }
        auto insert = db_.prepare(
            "INSERT INTO sweeps (user, size, created_at, first_seq, pending) "
            "VALUES (?, ?, ?, ?, ?)");
        if (!insert) {
            return insert.error();
        }
        if (auto r = (*insert)
                         ->bind(1, user)
                         .bind(2, size)
                         .bind(3, sweep.createdAt)
                         .bind(4, sweep.firstSeq)
                         .bind(5, plan)
                         .run();
            !r) {
            return r;
        }
        sweep.seq = db_.lastInsertRowid();
        return {};
    });
    if (!done) {
        return done.error();
    }
    sweep.id = sweepIdFromSeq(sweep.seq);
    return sweep;
}

Result<std::vector<std::pair<SweepRecord, std::string>>> JobStore::pendingSweeps() {
    auto stmt = db_.prepare(
        "SELECT seq, user, size, created_at, first_seq, pending FROM sweeps "
        "WHERE pending != '' ORDER BY seq");
    if (!stmt) {
        return stmt.error();
    }
    std::vector<std::pair<SweepRecord, std::string>> out;
    if (auto done = (*stmt)->forEachRow([&](const Statement& row) {
            SweepRecord sweep;
            sweep.seq = row.int64(0);
            sweep.id = sweepIdFromSeq(sweep.seq);
            sweep.user = row.text(1);
            sweep.size = row.int64(2);
            sweep.createdAt = row.int64(3);
            sweep.firstSeq = row.int64(4);
            out.emplace_back(std::move(sweep), row.text(5));
        });
        !done) {
        return done.error();
    }
    return out;
}

Result<SweepRecord> JobStore::expandSweep(const SweepRecord& pending,
                                          const std::vector<JobSpec>& specs, JobState initial,
                                          const std::string& reason) {
    if (static_cast<std::int64_t>(specs.size()) != pending.size || pending.firstSeq < 1) {
        return makeError(ErrorCode::InvalidArgument,
                         "sweep " + pending.id + ": " + std::to_string(specs.size()) +
                             " jobs for " + std::to_string(pending.size) + " reserved seqs");
    }
    SweepRecord sweep = pending;
    sweep.state = initial;
    sweep.jobs.clear();
    auto done = db_.transaction([&]() -> Result<void> {
        auto clear = db_.prepare("UPDATE sweeps SET pending = '' WHERE seq = ? AND pending != ''");
        if (!clear) {
            return clear.error();
        }
        if (auto r = (*clear)->bind(1, sweep.seq).run(); !r) {
            return r;
        }
        if (db_.changes() == 0) {
            return makeError(ErrorCode::NotFound, "sweep " + sweep.id + " is not pending");
        }
        return insertSweepJobs(
            sweep, specs, initial, reason,
            [&sweep](std::size_t i) { return sweep.firstSeq + static_cast<std::int64_t>(i); },
            false);
    });
    if (!done) {
        return done.error();
    }
    return sweep;
}

Result<SweepRecord> JobStore::sweep(const std::string& id) {
    const std::int64_t seq = seqFromSweepId(id);
    auto missing = makeError(ErrorCode::NotFound, "sweep " + id.substr(0, 40) + " does not exist");
    if (seq == 0) {
        return missing;
    }
    auto stmt = db_.prepare("SELECT user, size, created_at, first_seq FROM sweeps WHERE seq = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, seq).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return missing;
    }
    SweepRecord out{seq,
                    sweepIdFromSeq(seq),
                    (*stmt)->text(0),
                    (*stmt)->int64(1),
                    (*stmt)->int64(2),
                    (*stmt)->int64(3),
                    JobState::Queued,
                    {}};
    (*stmt)->reset();
    return out;
}

Result<std::vector<std::pair<std::string, JobState>>> JobStore::sweepMembers(
    std::int64_t sweepSeq) {
    auto stmt = db_.prepare("SELECT seq, state FROM jobs WHERE sweep_seq = ? ORDER BY seq");
    if (!stmt) {
        return stmt.error();
    }
    (*stmt)->bind(1, sweepSeq);
    std::vector<std::pair<std::string, JobState>> out;
    if (auto done = (*stmt)->forEachRow([&](const Statement& row) {
            out.emplace_back(jobIdFromSeq(row.int64(0)),
                             parseJobState(row.text(1)).value_or(JobState::Failed));
        });
        !done) {
        return done.error();
    }
    return out;
}

Result<std::vector<std::string>> JobStore::cancelWaiting(std::int64_t sweepSeq) {
    const std::int64_t now = clock_();
    std::vector<std::pair<std::int64_t, std::string>> waiting;  // seq, state
    auto done = db_.transaction([&]() -> Result<void> {
        auto select = db_.prepare(
            "SELECT seq, state FROM jobs WHERE sweep_seq = ? AND state IN ('queued', 'held') "
            "ORDER BY seq");
        if (!select) {
            return select.error();
        }
        (*select)->bind(1, sweepSeq);
        if (auto r = (*select)->forEachRow(
                [&](const Statement& row) { waiting.emplace_back(row.int64(0), row.text(1)); });
            !r) {
            return r;
        }
        auto update = db_.prepare(
            "UPDATE jobs SET state = 'cancelled', reason = 'cancelled', finished_at = ?1 "
            "WHERE sweep_seq = ?2 AND state IN ('queued', 'held')");
        if (!update) {
            return update.error();
        }
        if (auto r = (*update)->bind(1, now).bind(2, sweepSeq).run(); !r) {
            return r;
        }
        for (const auto& [seq, from] : waiting) {
            if (auto r = insertEvent(seq, now, from, "cancelled", "cancelled"); !r) {
                return r;
            }
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    std::vector<std::string> ids;
    ids.reserve(waiting.size());
    for (const auto& entry : waiting) {
        ids.push_back(jobIdFromSeq(entry.first));
    }
    return ids;
}

Result<void> JobStore::insertEvent(std::int64_t seq, std::int64_t at, const std::string& from,
                                   const std::string& to, const std::string& reason) {
    auto event = db_.prepare(
        "INSERT INTO job_events (job_seq, at, from_state, to_state, reason) "
        "VALUES (?, ?, ?, ?, ?)");
    if (!event) {
        return event.error();
    }
    return (*event)->bind(1, seq).bind(2, at).bind(3, from).bind(4, to).bind(5, reason).run();
}

Result<Job> JobStore::load(std::int64_t seq) {
    auto stmt = db_.prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE seq = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, seq).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return notFound(jobIdFromSeq(seq));
    }
    Job job = rowToJob(**stmt);
    (*stmt)->reset();
    auto metrics = lastMetrics(seq);
    if (!metrics) {
        return metrics.error();
    }
    job.metrics = std::move(*metrics);
    auto deps = dependencies(seq);
    if (!deps) {
        return deps.error();
    }
    for (const auto& d : *deps) {
        (d.okOnly ? job.spec.afterOk : job.spec.after).push_back(d.id);
    }
    return job;
}

Result<std::vector<Dependency>> JobStore::dependencies(std::int64_t seq) {
    auto stmt = db_.prepare(
        "SELECT d.dep_seq, d.kind, COALESCE(j.state, '') FROM job_deps d "
        "LEFT JOIN jobs j ON j.seq = d.dep_seq WHERE d.job_seq = ? ORDER BY d.dep_seq");
    if (!stmt) {
        return stmt.error();
    }
    (*stmt)->bind(1, seq);
    std::vector<Dependency> out;
    if (auto done = (*stmt)->forEachRow([&](const Statement& row) {
            Dependency d;
            d.id = jobIdFromSeq(row.int64(0));
            d.okOnly = row.text(1) == "after_ok";
            d.state = parseJobState(row.text(2));
            out.push_back(std::move(d));
        });
        !done) {
        return done.error();
    }
    return out;
}

Result<std::vector<std::string>> JobStore::heldDependents(const std::string& id) {
    auto stmt = db_.prepare(
        "SELECT d.job_seq FROM job_deps d JOIN jobs j ON j.seq = d.job_seq "
        "WHERE d.dep_seq = ? AND j.state = 'held' ORDER BY d.job_seq");
    if (!stmt) {
        return stmt.error();
    }
    (*stmt)->bind(1, seqFromJobId(id));
    std::vector<std::string> out;
    if (auto done = (*stmt)->forEachRow(
            [&](const Statement& row) { out.push_back(jobIdFromSeq(row.int64(0))); });
        !done) {
        return done.error();
    }
    return out;
}

Result<Job> JobStore::get(const std::string& id) {
    std::int64_t seq = seqFromJobId(id);
    if (seq == 0) {
        return notFound(id);
    }
    return load(seq);
}

Result<std::map<std::string, double>> JobStore::lastMetrics(std::int64_t seq) {
    // Latest step of each metric name (the index covers job_seq, name, step).
    auto stmt = db_.prepare(
        "SELECT m.name, m.value FROM metrics m WHERE m.job_seq = ?1 AND m.step = "
        "(SELECT MAX(step) FROM metrics WHERE job_seq = ?1 AND name = m.name)");
    if (!stmt) {
        return stmt.error();
    }
    (*stmt)->bind(1, seq);
    std::map<std::string, double> values;
    if (auto done =
            (*stmt)->forEachRow([&](const Statement& row) { values[row.text(0)] = row.real(1); });
        !done) {
        return done.error();
    }
    return values;
}

Result<std::vector<Job>> JobStore::query(const std::string& sql,
                                         const std::function<void(Statement&)>& bind) {
    auto stmt = db_.prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    bind(**stmt);
    std::vector<Job> jobs;
    if (auto done =
            (*stmt)->forEachRow([&](const Statement& row) { jobs.push_back(rowToJob(row)); });
        !done) {
        return done.error();
    }
    for (auto& job : jobs) {
        auto metrics = lastMetrics(job.seq);
        if (!metrics) {
            return metrics.error();
        }
        job.metrics = std::move(*metrics);
    }
    return jobs;
}

Result<std::vector<Job>> JobStore::list(std::optional<JobState> state, std::uint32_t limit,
                                        const std::string& user, const std::string& before,
                                        std::int64_t sweepSeq) {
    std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE 1";
    if (sweepSeq != 0) {
        sql += " AND sweep_seq = ?";
    }
    if (state) {
        sql += " AND state = ?";
    }
    if (!user.empty()) {
        sql += " AND user = ?";
    }
    if (!before.empty()) {
        sql += " AND seq < ?";
    }
    sql += " ORDER BY seq DESC LIMIT ?";
    return query(sql, [&](Statement& s) {
        int i = 1;
        if (sweepSeq != 0) {
            s.bind(i++, sweepSeq);
        }
        if (state) {
            s.bind(i++, std::string(jobStateName(*state)));
        }
        if (!user.empty()) {
            s.bind(i++, user);
        }
        if (!before.empty()) {
            s.bind(i++, seqFromJobId(before));
        }
        s.bind(i, std::int64_t{limit});
    });
}

Result<std::vector<Job>> JobStore::inStates(const std::vector<JobState>& states) {
    std::vector<Job> all;
    for (JobState state : states) {
        auto jobs = query(std::string("SELECT ") + kJobColumns +
                              " FROM jobs WHERE state = ? AND shared = 0 ORDER BY seq ASC",
                          [&](Statement& s) { s.bind(1, std::string(jobStateName(state))); });
        if (!jobs) {
            return jobs.error();
        }
        all.insert(all.end(), jobs->begin(), jobs->end());
    }
    return all;
}

Result<std::optional<Job>> JobStore::nextQueued(std::uint32_t maxRunningPerUser) {
    auto jobs = queuedCandidates(1, maxRunningPerUser);
    if (!jobs) {
        return jobs.error();
    }
    if (jobs->empty()) {
        return std::optional<Job>{};
    }
    return std::optional<Job>{jobs->front()};
}

Result<std::vector<Job>> JobStore::queuedCandidates(std::uint32_t limit,
                                                    std::uint32_t maxRunningPerUser) {
    const std::int64_t now = clock_();
    // Users at their limit of starting/running jobs (few rows: index jobs_state) are skipped.
    return query(
        std::string("SELECT ") + kJobColumns +
            " FROM jobs WHERE state = 'queued' AND shared = 0 AND not_before <= ?1 "
            "AND (?2 = 0 OR user NOT IN (SELECT user FROM jobs "
            "WHERE state IN ('starting', 'running') GROUP BY user "
            "HAVING COUNT(*) >= ?2)) "
            "ORDER BY eff_priority DESC, seq ASC LIMIT ?3",
        [now, maxRunningPerUser, limit](Statement& s) {
            s.bind(1, now).bind(2, std::int64_t{maxRunningPerUser}).bind(3, std::int64_t{limit});
        });
}

Result<Job> JobStore::transition(const std::string& id, JobState to, const TransitionFields& fields,
                                 const std::optional<std::vector<std::string>>& devices) {
    auto current = get(id);
    if (!current) {
        return current.error();
    }
    JobState from = current->state;
    if (!canTransition(from, to)) {
        return makeError(
            ErrorCode::InvalidArgument,
            "job " + id + " cannot go from " + jobStateName(from) + " to " + jobStateName(to));
    }
    std::int64_t now = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "UPDATE jobs SET state = ?1, exit_code = COALESCE(?2, exit_code), "
            "reason = CASE WHEN ?3 = '' THEN reason ELSE ?3 END, "
            "started_at = CASE WHEN ?4 AND started_at = 0 THEN ?5 ELSE started_at END, "
            "finished_at = CASE WHEN ?6 THEN ?5 ELSE finished_at END, "
            "devices = COALESCE(?8, devices) WHERE seq = ?7");
        if (!stmt) {
            return stmt.error();
        }
        Statement& s = **stmt;
        s.bind(1, std::string(jobStateName(to)));
        if (fields.exitCode) {
            s.bind(2, std::int64_t{*fields.exitCode});
        } else {
            s.bindNull(2);
        }
        bool starts = to == JobState::Starting || to == JobState::Running;
        s.bind(3, fields.reason)
            .bind(4, std::int64_t{starts})
            .bind(5, now)
            .bind(6, std::int64_t{isTerminal(to)})
            .bind(7, current->seq);
        if (devices) {
            s.bind(8, nlohmann::json(*devices).dump());
        } else {
            s.bindNull(8);
        }
        if (auto r = s.run(); !r) {
            return r;
        }
        return insertEvent(current->seq, now, jobStateName(from), jobStateName(to), fields.reason);
    });
    if (!done) {
        return done.error();
    }
    return load(current->seq);
}

Result<std::int64_t> JobStore::age(std::int32_t maxPriority) {
    std::int64_t changed = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "UPDATE jobs SET eff_priority = eff_priority + 1 "
            "WHERE state = 'queued' AND eff_priority < ?1");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, std::int64_t{maxPriority}).run(); !r) {
            return r;
        }
        changed = db_.changes();
        return {};
    });
    if (!done) {
        return done.error();
    }
    return changed;
}

Result<std::optional<std::int64_t>> JobStore::nextNotBefore() {
    auto stmt =
        db_.prepare("SELECT MIN(not_before) FROM jobs WHERE state = 'queued' AND not_before > ?1");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, clock_()).step();
    if (!row) {
        return row.error();
    }
    if (!*row || (*stmt)->isNull(0)) {
        return std::optional<std::int64_t>{};
    }
    return std::optional<std::int64_t>{(*stmt)->int64(0)};
}

Result<Job> JobStore::retry(const std::string& id, std::int32_t exitCode, const std::string& reason,
                            std::int64_t delayMs) {
    auto current = get(id);
    if (!current) {
        return current.error();
    }
    if (!canTransition(current->state, JobState::Queued) || current->state == JobState::Held) {
        return makeError(ErrorCode::InvalidArgument,
                         "job " + id + " cannot be retried from " + jobStateName(current->state));
    }
    const std::int64_t now = clock_();
    const std::int64_t notBefore = now + delayMs;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "UPDATE jobs SET state = 'queued', attempt = attempt + 1, not_before = ?1, "
            "exit_code = ?2, reason = ?3, devices = '[]' WHERE seq = ?4");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)
                         ->bind(1, notBefore)
                         .bind(2, std::int64_t{exitCode})
                         .bind(3, reason)
                         .bind(4, current->seq)
                         .run();
            !r) {
            return r;
        }
        return insertEvent(current->seq, now, jobStateName(current->state), "queued", reason);
    });
    if (!done) {
        return done.error();
    }
    return load(current->seq);
}

Result<std::vector<JobEvent>> JobStore::events(const std::string& id) {
    auto job = get(id);
    if (!job) {
        return job.error();
    }
    auto stmt = db_.prepare(
        "SELECT at, from_state, to_state, reason FROM job_events WHERE job_seq = ? ORDER BY id");
    if (!stmt) {
        return stmt.error();
    }
    (*stmt)->bind(1, job->seq);
    std::vector<JobEvent> events;
    if (auto done = (*stmt)->forEachRow([&](const Statement& row) {
            events.push_back(JobEvent{row.int64(0), row.text(1), row.text(2), row.text(3)});
        });
        !done) {
        return done.error();
    }
    return events;
}

Result<void> JobStore::setResults(const std::string& id, const std::string& resultsTreeId) {
    auto job = get(id);
    if (!job) {
        return job.error();
    }
    auto stmt = db_.prepare("UPDATE jobs SET results = ? WHERE seq = ?");
    if (!stmt) {
        return stmt.error();
    }
    return (*stmt)->bind(1, resultsTreeId).bind(2, job->seq).run();
}

Result<void> JobStore::addMetrics(const std::string& id, std::int64_t step,
                                  const std::map<std::string, double>& values) {
    std::int64_t seq = seqFromJobId(id);
    if (seq == 0) {
        return notFound(id);
    }
    std::int64_t now = clock_();
    return db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "INSERT INTO metrics (job_seq, step, name, value, at) VALUES (?, ?, ?, ?, ?)");
        if (!stmt) {
            return stmt.error();
        }
        for (const auto& [name, value] : values) {
            (*stmt)->reset().bind(1, seq).bind(2, step).bind(3, name).bind(4, value).bind(5, now);
            if (auto r = (*stmt)->run(); !r) {
                if (r.error().message.find("FOREIGN KEY") != std::string::npos) {
                    return notFound(id);
                }
                return r;
            }
        }
        return {};
    });
}

Result<void> JobStore::putCommit(const std::string& id, const std::string& manifest,
                                 const std::string& kind, const std::string& user) {
    // Recording a known tree again starts its grace period again (schema version 9).
    auto stmt = db_.prepare(
        "INSERT INTO commits (id, manifest, kind, user, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at");
    if (!stmt) {
        return stmt.error();
    }
    return (*stmt)
        ->bind(1, id)
        .bind(2, manifest)
        .bind(3, kind)
        .bind(4, user)
        .bind(5, clock_())
        .run();
}

Result<std::optional<std::string>> JobStore::getCommit(const std::string& id) {
    auto stmt = db_.prepare("SELECT manifest FROM commits WHERE id = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, id).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<std::string>{};
    }
    std::optional<std::string> text = (*stmt)->text(0);
    (*stmt)->reset();
    return text;
}

}  // namespace fetchml
