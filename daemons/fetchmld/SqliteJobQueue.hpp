#pragma once
// SqliteJobQueue: JobQueue in tables of one SQLite database, the reference semantics of
// RedisJobQueue (same conformance suite, tests/integration/fetchmld_JobQueue.cpp), for one host
// or several processes on one machine (each with its own connection to the file).
//   queue_seq      the job sequence (one row)
//   queue_entries  id (increasing, never reused), job, payload, consumer (NULL = waiting),
//                  lease_until (ms since the epoch), deliveries
//   queue_cancels  job, expires_at (ms; a request is kept a week)
//   queue_events   id (increasing, never reused), job, payload; the last 100,000 are kept
// An entry's lease runs out when the clock reaches lease_until (as Redis' XAUTOCLAIM takes
// entries idle for at least min-idle-time). Every call is one BEGIN IMMEDIATE transaction.
//
// The queue must live in its own database file, not fetchmld's: Database::migrate records
// versions in the one schema_version table of a file, which the scheduler's migrations use.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "Database.hpp"
#include "JobQueue.hpp"
#include "JobStore.hpp"  // MsClock, wallClockMs
#include "core/Result.hpp"

namespace fetchml {

/// The shared queue in SQLite. Use one object (one connection) per thread.
class SqliteJobQueue final : public JobQueue {
public:
    /// The queue's schema, for Database::migrate on the queue's own database file.
    static std::vector<std::string> migrations();

    /// Opens (creating) the database at `path` (Database::open), applies migrations(), and
    /// returns a queue owning it, with a lease of `leaseMs` ms (> 0) measured on `clock` (ms
    /// since the epoch; tests inject one). Open files one after another: two connections
    /// migrating a new file at once can fail. Errors: InvalidArgument (leaseMs <= 0);
    /// Database::open's and Database::migrate's.
    static Result<std::unique_ptr<SqliteJobQueue>> open(const std::string& path,
                                                        std::int64_t leaseMs,
                                                        MsClock clock = wallClockMs);

    /// A queue over `db`, which the caller opened and migrated with migrations() and which
    /// outlives the queue. leaseMs must be > 0.
    SqliteJobQueue(Database& db, std::int64_t leaseMs, MsClock clock = wallClockMs)
        : db_(db), leaseMs_(leaseMs), clock_(std::move(clock)) {}

    /// The next value of queue_seq (1, 2, ...).
    Result<std::int64_t> nextJobSeq() override;
    /// queue_seq's value becomes at least atLeast.
    Result<void> raiseJobSeq(std::int64_t atLeast) override;
    /// Inserts a waiting entry; its id as decimal text.
    Result<std::string> publish(const std::string& jobId, const std::string& payload) override;
    /// The oldest `max` waiting entries, now held by `consumer` until now + leaseMs,
    /// deliveries 1.
    Result<std::vector<QueueEntry>> claim(const std::string& consumer, std::uint32_t max) override;
    /// The oldest `max` held entries with lease_until <= now, now held by `consumer`,
    /// deliveries + 1.
    Result<std::vector<QueueEntry>> reclaim(const std::string& consumer,
                                            std::uint32_t max) override;
    /// The entries whose consumer is `consumer`, lapsed leases included, oldest first.
    Result<std::vector<QueueEntry>> held(const std::string& consumer) override;
    /// Sets lease_until = now + leaseMs on those of entryIds `consumer` holds; returns the
    /// others (malformed ids included), in entryIds' order.
    Result<std::vector<std::string>> renew(const std::string& consumer,
                                           const std::vector<std::string>& entryIds) override;
    /// Deletes the entry when `consumer` holds it. Errors: NotFound otherwise.
    Result<void> complete(const std::string& consumer, const std::string& entryId) override;
    /// Entries with no consumer.
    Result<std::uint64_t> waiting() override;

    /// Records (or refreshes) a cancel request for a week; drops expired ones.
    Result<void> requestCancel(const std::string& jobId) override;
    /// Of jobIds, those with an unexpired cancel request.
    Result<std::vector<std::string>> cancelRequested(
        const std::vector<std::string>& jobIds) override;

    /// Inserts an event (id as decimal text) and drops all but the last 100,000.
    Result<std::string> announce(const std::string& jobId, const std::string& payload) override;
    /// Up to `max` events with id > afterId ("" = from the oldest), oldest first.
    /// Errors: InvalidArgument when afterId is not a decimal event id.
    Result<std::vector<QueueEvent>> events(const std::string& afterId, std::uint32_t max) override;

    /// The lease, ms.
    std::int64_t leaseMs() const override { return leaseMs_; }

private:
    SqliteJobQueue(std::unique_ptr<Database> owned, std::int64_t leaseMs, MsClock clock)
        : owned_(std::move(owned)), db_(*owned_), leaseMs_(leaseMs), clock_(std::move(clock)) {}

    // claim() (waiting entries) or reclaim() (lapsed leases): the oldest `max` become
    // `consumer`'s until now + leaseMs, deliveries + 1.
    Result<std::vector<QueueEntry>> takeEntries(const std::string& consumer, std::uint32_t max,
                                                bool reclaiming);

    std::unique_ptr<Database> owned_;  // set by open(); declared before db_, which refers to it
    Database& db_;
    std::int64_t leaseMs_;
    MsClock clock_;
};

}  // namespace fetchml
