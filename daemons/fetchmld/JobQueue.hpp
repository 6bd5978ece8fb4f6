#pragma once
// JobQueue: the queue that several hosts share (queue.backend: redis). Each fetchmld is one
// consumer: it claims entries (jobs waiting for a host) with a lease it renews while it holds
// them; an entry whose lease ran out (its host died) is claimed again by another host. Two back
// ends, held to one conformance suite (tests/integration/fetchmld_JobQueue.cpp):
//   RedisJobQueue  — Redis Streams with a consumer group (XADD, XREADGROUP, XCLAIM,
//                    XAUTOCLAIM, XACK; https://redis.io/docs/data-types/streams/), the
//                    lease being the entry's idle time in the group's pending entries list;
//   SqliteJobQueue — the same semantics in tables of one SQLite database (leases by time),
//                    for one host or hosts on one machine, and the reference semantics.
// Besides the entries the queue holds what every host needs: the job sequence (job ids unique
// across hosts), cancel requests, and a log of job state changes (so the host a job was
// submitted on can show where it ran and how it ended).
// See decisions.md "Several hosts: the shared queue".

#include <cstdint>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// One entry of the shared queue.
struct QueueEntry {
    std::string entryId;  ///< the back end's id of the entry (Redis stream id, SQLite row id)
    std::string jobId;    ///< the job ("j000042")
    std::string payload;  ///< the job as JSON (origin host, spec); opaque to the queue
    std::uint32_t deliveries = 1;  ///< times the entry was claimed, this time included
};

/// One state change of a job, as announced to every host.
struct QueueEvent {
    std::string eventId;  ///< the back end's id, increasing; pass it to events() for the next
    std::string jobId;
    std::string payload;  ///< JSON (host, state, exit_code, reason, ...); opaque to the queue
};

/// The shared queue. Calls block on the back end (a local socket round trip); errors are
/// Unavailable-style Internal/Busy results with the back end's message, never exceptions.
class JobQueue {
public:
    virtual ~JobQueue() = default;

    /// A new job sequence number, unique across every host sharing the queue, increasing
    /// (1, 2, ...). Errors: the back end's.
    virtual Result<std::int64_t> nextJobSeq() = 0;
    /// Makes sure nextJobSeq() returns more than `atLeast` from now on (a host joining with
    /// jobs of its own in its database). Never lowers the sequence. Errors: the back end's.
    virtual Result<void> raiseJobSeq(std::int64_t atLeast) = 0;
    /// Appends an entry for job `jobId` (FIFO). Returns its entry id. Durable as far as the
    /// back end is (Redis: per its appendfsync setting; SQLite: committed).
    virtual Result<std::string> publish(const std::string& jobId, const std::string& payload) = 0;
    /// Claims up to `max` entries no consumer has claimed yet, oldest first, for `consumer`;
    /// each is leased to it for leaseMs() from now. Empty when none waits.
    virtual Result<std::vector<QueueEntry>> claim(const std::string& consumer,
                                                  std::uint32_t max) = 0;
    /// Claims up to `max` entries whose lease has run out (held by any consumer, `consumer`
    /// included, not renewed for leaseMs()), oldest first (Redis: XAUTOCLAIM); their
    /// deliveries count grows by one.
    virtual Result<std::vector<QueueEntry>> reclaim(const std::string& consumer,
                                                    std::uint32_t max) = 0;
    /// Every entry `consumer` holds now, oldest first (after a restart its claims are still
    /// its own until their leases run out).
    virtual Result<std::vector<QueueEntry>> held(const std::string& consumer) = 0;
    /// Renews the leases of the given entries that `consumer` still holds. Returns the ids,
    /// among entryIds, it no longer holds: another consumer reclaimed them, or they were
    /// completed (the caller must stop running those jobs).
    virtual Result<std::vector<std::string>> renew(const std::string& consumer,
                                                   const std::vector<std::string>& entryIds) = 0;
    /// Removes an entry `consumer` holds: its job is finished (Redis: the owner check, XACK
    /// and XDEL in one script). Errors: NotFound when `consumer` does not hold it (then
    /// nothing changes).
    virtual Result<void> complete(const std::string& consumer, const std::string& entryId) = 0;
    /// Entries not yet claimed by anyone.
    virtual Result<std::uint64_t> waiting() = 0;

    /// Records that job `jobId` should be cancelled wherever it is (kept for a week).
    virtual Result<void> requestCancel(const std::string& jobId) = 0;
    /// Of `jobIds`, those with a cancel request.
    virtual Result<std::vector<std::string>> cancelRequested(
        const std::vector<std::string>& jobIds) = 0;

    /// Appends a state change of a job to the log every host reads (the last 100,000 are
    /// kept). Returns its event id.
    virtual Result<std::string> announce(const std::string& jobId, const std::string& payload) = 0;
    /// Up to `max` events after event `afterId` ("" = from the oldest kept), oldest first.
    virtual Result<std::vector<QueueEvent>> events(const std::string& afterId,
                                                   std::uint32_t max) = 0;

    /// The lease, ms.
    virtual std::int64_t leaseMs() const = 0;
};

}  // namespace fetchml
