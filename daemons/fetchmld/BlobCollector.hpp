#pragma once
// BlobCollector: garbage collection of the content-addressed store (decisions.md "Blob garbage
// collection"), in steps that an event loop runs one at a time:
//   start()  one transaction: the recorded trees (commits and results trees) that no root keeps
//            are chosen and, unless it is a dry run, their records deleted;
//   step()   mark: the blobs of every tree still recorded (read a few records a step);
//            then sweep: each blob of the store that is not marked and whose modification time
//            is before the cutoff (start time less the grace period) is removed, holding the
//            store's lock (StoreLock) exclusively; when a backup holds it, the sweep is
//            skipped and the blobs wait for the next collection (GcReport::sweepSkipped).
// Roots: the code, results and dataset trees of every job and of every sweep accepted but not
// yet expanded into jobs, every pin, every dataset version, and every tree recorded within the
// grace period (kRootSources in BlobCollector.cpp is the one
// list of them). A tree's record is deleted before any of its blobs, and every tree still
// recorded is marked, so fetchmld never drops a blob of a recorded tree. Blobs stored or vouched
// for while the collection runs are newer than the cutoff (BlobStore::retain), so they are kept
// although no mark names them.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "Database.hpp"
#include "JobStore.hpp"
#include "core/Result.hpp"
#include "store/BlobCursor.hpp"
#include "store/BlobStore.hpp"
#include "store/StoreLock.hpp"

namespace fetchml {

/// What a collection removed (or, for a dry run, would remove).
struct GcReport {
    /// Ids of the recorded trees whose records went, with their kind ("commit", "results").
    std::vector<std::pair<std::string, std::string>> trees;
    std::uint64_t blobsRemoved = 0;
    std::uint64_t bytesFreed = 0;
    /// Why no blob was removed although the mark was complete ("" when the sweep ran): a backup
    /// held the store's lock (StoreLock), so the blobs wait for the next collection.
    std::string sweepSkipped;
};

/// Collects one store against one database; one collection at a time.
class BlobCollector {
public:
    /// graceMs: how long an unreferenced tree, and a blob no tree names, are kept after they
    /// were last recorded, stored or vouched for (store.gc_grace_s).
    BlobCollector(Database& db, BlobStore& store, std::int64_t graceMs, MsClock clock = wallClockMs)
        : db_(db), store_(store), graceMs_(graceMs), clock_(std::move(clock)) {}

    /// The grace period, ms.
    std::int64_t graceMs() const { return graceMs_; }

    /// Starts a collection: chooses the recorded trees that no root keeps and, unless dryRun,
    /// deletes their records (one transaction). leavingJobs: ids of jobs to count as gone
    /// (the jobs a dry run of prune would remove; a real prune has removed them already).
    /// Errors: SQLite's (then nothing is removed and no collection runs).
    Result<void> start(bool dryRun, const std::vector<std::string>& leavingJobs = {});
    /// Runs the collection for about `budget` (at least one unit of work: a few records, or a
    /// batch of blobs). Returns true once it is complete; report() is then final.
    /// Errors: SQLite's; InvalidArgument when a recorded manifest does not parse; Internal for
    /// an unreadable store directory or a blob that cannot be removed. The collection ends
    /// there: what was removed stays removed, nothing more is.
    Result<bool> step(std::chrono::milliseconds budget);
    /// start() and step() to the end.
    Result<GcReport> run(bool dryRun, const std::vector<std::string>& leavingJobs = {});
    /// What the current or last collection removed so far.
    const GcReport& report() const { return report_; }

private:
    /// A blob hash in 32 bytes (the mark of a large store is millions of them).
    using Digest = std::array<std::uint8_t, 32>;
    struct DigestHash {
        std::size_t operator()(const Digest& d) const;
    };
    static Digest digestOf(const std::string& hex);

    /// Chooses the trees to drop (and deletes them unless dry): the body of start().
    Result<void> dropUnrooted(const std::vector<std::string>& leavingJobs);
    /// Marks the blobs of the next few recorded trees; true when every one is marked.
    Result<bool> markSome();
    /// Sweeps the next batch of blobs; true when the store has been walked.
    Result<bool> sweepSome();

    Database& db_;
    BlobStore& store_;
    std::int64_t graceMs_;
    MsClock clock_;

    // The collection in progress.
    bool dryRun_ = false;
    std::int64_t cutoffMs_ = 0;      ///< start time less the grace period
    std::set<std::string> dropped_;  ///< dry run: trees counted as gone, not marked
    std::int64_t markedRowid_ = 0;   ///< commits rows up to this rowid are marked
    bool marked_ = false;            ///< the mark is complete
    std::unordered_set<Digest, DigestHash> live_;
    std::optional<BlobCursor> cursor_;    ///< the sweep's walk (after the mark)
    std::optional<StoreLock> sweepLock_;  ///< held exclusively while the sweep removes blobs
    GcReport report_;
};

}  // namespace fetchml
