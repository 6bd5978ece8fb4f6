// JobStore: the part for several hosts sharing one queue (queue.backend redis): claims of
// shared-queue entries, jobs adopted from other hosts, and the mirror of jobs submitted here
// and run elsewhere. See decisions.md "Several hosts: the shared queue".

#include <algorithm>
#include <nlohmann/json.hpp>

#include "JobStore.hpp"

namespace fetchml {

Result<Job> JobStore::adopt(std::int64_t seq, const JobSpec& spec, const std::string& claim,
                            const std::string& origin, std::int32_t attempt) {
    const std::int64_t now = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        auto find = db_.prepare("SELECT state, shared FROM jobs WHERE seq = ?");
        if (!find) {
            return find.error();
        }
        auto row = (*find)->bind(1, seq).step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            (*find)->reset();
            auto inserted = insertJob(spec, JobState::Queued, "claimed from the shared queue", 0,
                                      now, seq, false);
            if (!inserted) {
                return inserted.error();
            }
            auto mark =
                db_.prepare("UPDATE jobs SET claim = ?, origin = ?, attempt = ? WHERE seq = ?");
            if (!mark) {
                return mark.error();
            }
            return (*mark)
                ->bind(1, claim)
                .bind(2, origin)
                .bind(3, std::int64_t{std::max(attempt, 1)})
                .bind(4, seq)
                .run();
        }
        const std::string state = (*find)->text(0);
        const bool shared = (*find)->int64(1) != 0;
        (*find)->reset();
        // A record that mirrored another host (or waited in the queue) starts over here; one
        // this host already runs (its own claim, read again after a restart) is kept as it is.
        const bool restart = shared && state != "queued" && !isTerminal(*parseJobState(state));
        auto update = db_.prepare(
            "UPDATE jobs SET claim = ?1, shared = 0, host = '', "
            "state = CASE WHEN ?2 THEN 'queued' ELSE state END, "
            "devices = CASE WHEN ?2 THEN '[]' ELSE devices END, "
            "attempt = CASE WHEN ?2 THEN MAX(attempt + 1, ?4) ELSE attempt END, "
            "started_at = CASE WHEN ?2 THEN 0 ELSE started_at END, "
            "finished_at = CASE WHEN ?2 THEN 0 ELSE finished_at END WHERE seq = ?3");
        if (!update) {
            return update.error();
        }
        if (auto r = (*update)
                         ->bind(1, claim)
                         .bind(2, std::int64_t{restart})
                         .bind(3, seq)
                         .bind(4, std::int64_t{attempt})
                         .run();
            !r) {
            return r;
        }
        if (restart) {
            return insertEvent(seq, now, state, "queued", "claimed again: its host went away");
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return load(seq);
}

Result<std::vector<Job>> JobStore::claimed() {
    auto stmt = db_.prepare("SELECT seq FROM jobs WHERE claim != '' ORDER BY seq");
    if (!stmt) {
        return stmt.error();
    }
    std::vector<std::int64_t> seqs;
    if (auto r = (*stmt)->forEachRow([&](const Statement& row) { seqs.push_back(row.int64(0)); });
        !r) {
        return r.error();
    }
    std::vector<Job> jobs;
    for (auto seq : seqs) {
        auto job = load(seq);
        if (!job) {
            return job.error();
        }
        jobs.push_back(std::move(*job));
    }
    return jobs;
}

Result<void> JobStore::clearClaim(const std::string& id) {
    auto stmt = db_.prepare("UPDATE jobs SET claim = '' WHERE seq = ?");
    if (!stmt) {
        return stmt.error();
    }
    if (auto r = (*stmt)->bind(1, seqFromJobId(id)).run(); !r) {
        return r;
    }
    if (db_.changes() == 0) {
        return makeError(ErrorCode::NotFound, "job " + id + " does not exist");
    }
    return {};
}

Result<Job> JobStore::yieldClaim(const std::string& id, const std::string& host,
                                 const std::string& reason) {
    auto current = get(id);
    if (!current) {
        return current.error();
    }
    const std::int64_t now = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "UPDATE jobs SET claim = '', shared = 1, host = ?1, state = 'queued', "
            "devices = '[]', reason = ?2 WHERE seq = ?3");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, host).bind(2, reason).bind(3, current->seq).run(); !r) {
            return r;
        }
        return insertEvent(current->seq, now, jobStateName(current->state), "queued", reason);
    });
    if (!done) {
        return done.error();
    }
    return load(current->seq);
}

Result<std::optional<Job>> JobStore::mirror(const std::string& id, JobState state,
                                            std::int32_t exitCode, const std::string& reason,
                                            const std::string& host, std::int32_t attempt,
                                            std::int64_t startedAt, std::int64_t finishedAt,
                                            const std::string& results) {
    const std::int64_t seq = seqFromJobId(id);
    auto current = load(seq);
    if (!current) {
        if (current.error().code == ErrorCode::NotFound) {
            return std::optional<Job>{};
        }
        return current.error();
    }
    if (!current->shared) {
        return std::optional<Job>{};
    }
    const std::int64_t now = clock_();
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "UPDATE jobs SET state = ?1, exit_code = ?2, reason = ?3, host = ?4, attempt = ?5, "
            "started_at = CASE WHEN ?6 = 0 THEN started_at ELSE ?6 END, "
            "finished_at = CASE WHEN ?7 = 0 THEN finished_at ELSE ?7 END, "
            "results = CASE WHEN ?8 = '' THEN results ELSE ?8 END WHERE seq = ?9");
        if (!stmt) {
            return stmt.error();
        }
        (*stmt)
            ->bind(1, std::string(jobStateName(state)))
            .bind(2, std::int64_t{exitCode})
            .bind(3, reason)
            .bind(4, host)
            .bind(5, std::int64_t{attempt})
            .bind(6, startedAt)
            .bind(7, finishedAt)
            .bind(8, results)
            .bind(9, seq);
        if (auto r = (*stmt)->run(); !r) {
            return r;
        }
        if (current->state == state) {
            return {};
        }
        return insertEvent(seq, now, jobStateName(current->state), jobStateName(state),
                           reason.empty() ? "on " + host : reason + " (on " + host + ")");
    });
    if (!done) {
        return done.error();
    }
    auto job = load(seq);
    if (!job) {
        return job.error();
    }
    return std::optional<Job>{std::move(*job)};
}

Result<std::int64_t> JobStore::maxSeq() {
    // Every id used or reserved here: the rows, the AUTOINCREMENT counter (ids of pruned jobs)
    // and the ranges of accepted sweeps not expanded yet (JobStore::reserveSweep).
    auto stmt = db_.prepare(
        "SELECT max(COALESCE((SELECT MAX(seq) FROM jobs), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), "
        "COALESCE((SELECT MAX(first_seq + size - 1) FROM sweeps WHERE pending != ''), 0))");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->step();
    if (!row) {
        return row.error();
    }
    const std::int64_t seq = *row ? (*stmt)->int64(0) : 0;
    (*stmt)->reset();
    return seq;
}

Result<std::int64_t> JobStore::dispatchableCount() {
    auto stmt = db_.prepare("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND shared = 0");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->step();
    if (!row) {
        return row.error();
    }
    const std::int64_t count = *row ? (*stmt)->int64(0) : 0;
    (*stmt)->reset();
    return count;
}

Result<std::string> JobStore::sharedValue(const std::string& key) {
    auto stmt = db_.prepare("SELECT value FROM shared_state WHERE key = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, key).step();
    if (!row) {
        return row.error();
    }
    std::string value = *row ? (*stmt)->text(0) : "";
    (*stmt)->reset();
    return value;
}

Result<void> JobStore::setSharedValue(const std::string& key, const std::string& value) {
    auto stmt = db_.prepare("INSERT OR REPLACE INTO shared_state (key, value) VALUES (?, ?)");
    if (!stmt) {
        return stmt.error();
    }
    return (*stmt)->bind(1, key).bind(2, value).run();
}

}  // namespace fetchml
