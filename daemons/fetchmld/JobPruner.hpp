#pragma once
// JobPruner: removes finished runs (`fetchmlctl prune`, PruneJobs): the job rows with their
// events, metrics and dependency rows in one transaction, then their run directories
// <runs>/<id>, <id>.attemptN and <id>.stale. Never touches queued, held, starting, running or
// lost jobs. Then the dataset copies nothing needs any more (DatasetCheckouts). The
// content-addressed store is collected after it (BlobCollector, PruneRunner).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Database.hpp"
#include "JobState.hpp"
#include "JobStore.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Which finished jobs to remove.
struct PruneFilter {
    /// Any of succeeded, failed, cancelled; empty = all three.
    std::vector<JobState> states;
    /// Only jobs that finished at least this long ago, ms (0 = any age).
    std::int64_t olderThanMs = 0;
    /// Keep the N most recently finished jobs in `states` whatever their age (nullopt = none
    /// kept).
    std::optional<std::uint32_t> keepLast;
    /// Report what would be removed, remove nothing.
    bool dryRun = false;
};

/// What a prune did (or would do, for a dry run).
struct PruneReport {
    /// Job ids removed, most recently finished first.
    std::vector<std::string> pruned;
    /// Matching jobs kept because a held job still waits on them (decisions.md "Prune").
    std::vector<std::string> keptForDependents;
    /// Run directories that could not be removed, "<path>: <why>" (the rows are gone).
    std::vector<std::string> dirsLeft;
    /// Dataset copies removed: those no dataset version and no unfinished job names
    /// (DatasetCheckouts).
    std::size_t checkoutsRemoved = 0;
};

/// Prunes finished jobs of one database and runs directory.
class JobPruner {
public:
    /// runsDir: <state_dir>/runs. clock: ms since the epoch (for olderThanMs).
    JobPruner(Database& db, std::string runsDir, MsClock clock = wallClockMs)
        : db_(db), runsDir_(std::move(runsDir)), clock_(std::move(clock)) {}

    /// Removes the finished jobs the filter selects: of the jobs in `states`, ordered by
    /// finish time, all but the `keepLast` newest that finished before now - olderThanMs,
    /// except those a held job depends on. Rows go in one transaction (sweeps left without
    /// jobs go too), directories after it has committed. Errors: InvalidArgument "states:
    /// <s> is not a finished state"; Busy/Internal from SQLite (then nothing is removed).
    Result<PruneReport> prune(const PruneFilter& filter);

private:
    /// Finds the jobs to remove (and those kept for dependents); deletes them unless dryRun.
    /// Fills attempts with each pruned job's attempt count.
    Result<void> selectAndDelete(const PruneFilter& filter, PruneReport& report,
                                 std::vector<std::int32_t>& attempts);
    /// Removes the dataset copies (<runs>/datasets) that no dataset version and no unfinished
    /// job names.
    Result<void> removeUnusedCheckouts(PruneReport& report);
    /// Removes <runs>/<id> and the directories kept from its earlier attempts.
    void removeRunDirs(const std::string& id, std::int32_t attempts, PruneReport& report);

    Database& db_;
    std::string runsDir_;
    MsClock clock_;
};

}  // namespace fetchml
