#include "JobPruner.hpp"

#include <filesystem>
#include <set>
#include <system_error>

#include "DatasetCheckouts.hpp"

namespace fetchml {

namespace {

struct Candidate {
    std::int64_t seq = 0;
    std::int32_t attempt = 1;
    std::int64_t sweepSeq = 0;
    bool needed = false;  // a held job depends on it
};

}  // namespace

Result<PruneReport> JobPruner::prune(const PruneFilter& filter) {
    for (JobState state : filter.states) {
        if (!isTerminal(state)) {
            return makeError(ErrorCode::InvalidArgument,
                             std::string("states: ") + jobStateName(state) +
                                 " is not a finished state (succeeded, failed, cancelled)");
        }
    }
    PruneReport report;
    std::vector<std::int32_t> attempts;
    auto done = filter.dryRun ? selectAndDelete(filter, report, attempts)
                              : db_.transaction([&]() -> Result<void> {
                                    return selectAndDelete(filter, report, attempts);
                                });
    if (!done) {
        return done.error();
    }
    if (!filter.dryRun) {
        for (std::size_t i = 0; i < report.pruned.size(); ++i) {
            removeRunDirs(report.pruned[i], attempts[i], report);
        }
        if (auto removed = removeUnusedCheckouts(report); !removed) {
            return removed.error();
        }
    }
    return report;
}

Result<void> JobPruner::removeUnusedCheckouts(PruneReport& report) {
    std::set<std::string> keep;
    auto versions = db_.prepare("SELECT tree FROM dataset_versions");
    if (!versions) {
        return versions.error();
    }
    if (auto r = (*versions)->forEachRow([&](const Statement& row) { keep.insert(row.text(0)); });
        !r) {
        return r;
    }
    auto used = db_.prepare(
        "SELECT j.state, json_extract(d.value, '$.tree') FROM jobs j, json_each(j.data) d "
        "WHERE j.data != '[]'");
    if (!used) {
        return used.error();
    }
    if (auto r = (*used)->forEachRow([&](const Statement& row) {
            auto state = parseJobState(row.text(0));
            if (!state || !isTerminal(*state)) {
                keep.insert(row.text(1));
            }
        });
        !r) {
        return r;
    }
    report.checkoutsRemoved = DatasetCheckouts::removeExcept(runsDir_, keep, report.dirsLeft);
    return {};
}

Result<void> JobPruner::selectAndDelete(const PruneFilter& filter, PruneReport& report,
                                        std::vector<std::int32_t>& attempts) {
    std::vector<JobState> states = filter.states;
    if (states.empty()) {
        states = {JobState::Succeeded, JobState::Failed, JobState::Cancelled};
    }
    std::string in;
    for (std::size_t i = 0; i < states.size(); ++i) {
        in += (i == 0 ? "?" : ", ?") + std::to_string(i + 3);
    }
    // The newest keepLast are skipped first (OFFSET), then the age applies to the rest.
    auto stmt = db_.prepare(
        "SELECT seq, attempt, sweep_seq, needed FROM ("
        "SELECT j.seq, j.attempt, j.sweep_seq, j.finished_at, EXISTS (SELECT 1 FROM job_deps d "
        "JOIN jobs h ON h.seq = d.job_seq WHERE d.dep_seq = j.seq AND h.state = 'held') "
        "AS needed FROM jobs j WHERE j.state IN (" +
        in +
        ") ORDER BY j.finished_at DESC, j.seq DESC LIMIT -1 OFFSET ?1) WHERE ?2 = 0 OR "
        "finished_at <= ?2");
    if (!stmt) {
        return stmt.error();
    }
    const std::int64_t cutoff = filter.olderThanMs > 0 ? clock_() - filter.olderThanMs : 0;
    (*stmt)->bind(1, std::int64_t{filter.keepLast.value_or(0)}).bind(2, cutoff);
    for (std::size_t i = 0; i < states.size(); ++i) {
        (*stmt)->bind(static_cast<int>(i + 3), std::string(jobStateName(states[i])));
    }
    std::vector<Candidate> candidates;
    if (auto r = (*stmt)->forEachRow([&](const Statement& row) {
            candidates.push_back(Candidate{row.int64(0), static_cast<std::int32_t>(row.int64(1)),
                                           row.int64(2), row.int64(3) != 0});
        });
        !r) {
        return r;
    }
    std::set<std::int64_t> sweeps;
    for (const auto& c : candidates) {
        if (c.needed) {
            report.keptForDependents.push_back(jobIdFromSeq(c.seq));
            continue;
        }
        report.pruned.push_back(jobIdFromSeq(c.seq));
        attempts.push_back(c.attempt);
        if (c.sweepSeq != 0) {
            sweeps.insert(c.sweepSeq);
        }
        if (filter.dryRun) {
            continue;
        }
        // Rows that name the job as a dependency (job_deps.dep_seq) stay: they are the
        // dependents' record of what they waited for (decisions.md "Prune").
        for (const char* sql :
             {"DELETE FROM job_events WHERE job_seq = ?", "DELETE FROM metrics WHERE job_seq = ?",
              "DELETE FROM job_deps WHERE job_seq = ?", "DELETE FROM jobs WHERE seq = ?"}) {
            auto del = db_.prepare(sql);
            if (!del) {
                return del.error();
            }
            if (auto r = (*del)->bind(1, c.seq).run(); !r) {
                return r;
            }
        }
    }
    if (filter.dryRun) {
        return {};
    }
    for (std::int64_t sweep : sweeps) {
        auto del = db_.prepare(
            "DELETE FROM sweeps WHERE seq = ?1 AND pending = '' AND NOT EXISTS "
            "(SELECT 1 FROM jobs WHERE sweep_seq = ?1)");
        if (!del) {
            return del.error();
        }
        if (auto r = (*del)->bind(1, sweep).run(); !r) {
            return r;
        }
    }
    return {};
}

void JobPruner::removeRunDirs(const std::string& id, std::int32_t attempts, PruneReport& report) {
    std::vector<std::string> dirs{runsDir_ + "/" + id, runsDir_ + "/" + id + ".stale"};
    for (std::int32_t a = 1; a < attempts; ++a) {
        dirs.push_back(runsDir_ + "/" + id + ".attempt" + std::to_string(a));
    }
    for (const auto& dir : dirs) {
        std::error_code ec;
        // remove_all does not follow symbolic links; a missing directory is not an error.
        std::filesystem::remove_all(dir, ec);
        if (ec) {
            report.dirsLeft.push_back(dir + ": " + ec.message());
        }
    }
}

}  // namespace fetchml
