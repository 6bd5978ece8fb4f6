#pragma once
// RedisJobQueue: JobQueue over Redis Streams with one consumer group (queue.backend: redis).
// Keys, all under a prefix (queue.redis_prefix, default "fetchml"):
//   <prefix>:jobs            stream of entries {job, payload}; consumer group "<prefix>"
//   <prefix>:seq             job sequence (INCR)
//   <prefix>:cancel:<jobId>  cancel request (SET ... EX 604800, a week)
//   <prefix>:events          stream of job events {job, payload} (XADD MAXLEN ~ 100000)
// The lease of an entry is its idle time in the group's pending entries list (PEL): claiming
// (XREADGROUP, XAUTOCLAIM) and renewing (XCLAIM ... JUSTID) set it to 0, and an entry idle for
// leaseMs or longer may be reclaimed (XAUTOCLAIM's min-idle-time). Completing an entry removes
// it from the PEL and the stream (XACK + XDEL), so the stream holds exactly the entries not
// yet completed: waiting() = XLEN - pending count. Commands and their replies:
// https://redis.io/commands/ (Redis 7.0 as Debian 12 ships it; hiredis 0.14, RESP2).
//
// One object is one connection: use it from one thread at a time. hiredis writes with send()
// without MSG_NOSIGNAL, so the process must ignore SIGPIPE (a server that went away would
// otherwise kill it). Payloads never appear in error messages.

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "JobQueue.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Deleter for a hiredis connection (redisFree).
struct RedisContextDeleter {
    void operator()(redisContext* context) const { redisFree(context); }
};
/// Owning pointer to a hiredis connection.
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

/// Deleter for a hiredis reply (freeReplyObject, which frees nested elements too).
struct RedisReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
/// Owning pointer to a (top-level) hiredis reply.
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

/// Where a Redis server listens, parsed from queue.redis_url.
struct RedisAddress {
    std::string socketPath;  ///< set for unix:///path/to/sock
    std::string host;        ///< set for redis://host:port ("[::1]" given as ::1)
    int port = 0;            ///< 1..65535 with host
};

/// The shared queue in Redis. See the file comment for keys and semantics.
class RedisJobQueue final : public JobQueue {
public:
    /// Parses `url`: "unix:///absolute/path" or "redis://host:port" (IPv6 as [addr]:port).
    /// Errors: InvalidArgument naming queue.redis_url.
    static Result<RedisAddress> parseUrl(const std::string& url);

    /// Connects to the server at `url` (see parseUrl), keys under `prefix` (non-empty), with a
    /// lease of `leaseMs` ms (> 0), and creates the consumer group if it does not exist
    /// (XGROUP CREATE <prefix>:jobs <prefix> 0 MKSTREAM; BUSYGROUP ignored).
    /// Errors: InvalidArgument (bad url, naming queue.redis_url; empty prefix; leaseMs <= 0);
    /// Internal with hiredis' or the server's message and the url (cannot connect, group).
    static Result<std::unique_ptr<RedisJobQueue>> connect(const std::string& url,
                                                          const std::string& prefix,
                                                          std::int64_t leaseMs);

    /// INCR <prefix>:seq.
    Result<std::int64_t> nextJobSeq() override;
    /// A Lua script: SET <prefix>:seq to atLeast when it is lower (atomic).
    Result<void> raiseJobSeq(std::int64_t atLeast) override;
    /// XADD <prefix>:jobs * job <jobId> payload <payload>; the stream id ("1700000000000-0").
    Result<std::string> publish(const std::string& jobId, const std::string& payload) override;
    /// XREADGROUP GROUP <prefix> <consumer> COUNT <max> STREAMS <prefix>:jobs >
    /// (deliveries 1). max 0 gives nothing.
    Result<std::vector<QueueEntry>> claim(const std::string& consumer, std::uint32_t max) override;
    /// XAUTOCLAIM ... <consumer> <leaseMs> <cursor> COUNT n, looping over the cursor until max
    /// entries or the end of the PEL, in one script (EVAL); deliveries from XPENDING.
    /// Entries deleted from the stream meanwhile are skipped (Redis 7.0 returns their ids in
    /// a third element and drops them from the PEL; 6.2 returned them with nil fields).
    Result<std::vector<QueueEntry>> reclaim(const std::string& consumer,
                                            std::uint32_t max) override;
    /// XPENDING ... - + <count> <consumer>, then XRANGE id id for each, in one read-only
    /// script. Does not touch the leases (XREADGROUP with id 0 would: it resets the idle time
    /// and counts a delivery).
    Result<std::vector<QueueEntry>> held(const std::string& consumer) override;
    /// For each id, in one script: XPENDING <key> <group> id id 1 names `consumer` →
    /// XCLAIM <key> <group> <consumer> 0 id JUSTID (idle time back to 0, deliveries
    /// unchanged); otherwise (or a malformed id) it is returned as lost, in entryIds' order.
    Result<std::vector<std::string>> renew(const std::string& consumer,
                                           const std::vector<std::string>& entryIds) override;
    /// In one script: when XPENDING names `consumer`, XACK and XDEL. Errors: NotFound when
    /// `consumer` does not hold entryId.
    Result<void> complete(const std::string& consumer, const std::string& entryId) override;
    /// XLEN minus the group's pending count, in one script. (XINFO GROUPS' lag is nil in
    /// Redis 7.0 once entries were XDEL'd, which complete() always does.)
    Result<std::uint64_t> waiting() override;

    /// SET <prefix>:cancel:<jobId> 1 EX 604800.
    Result<void> requestCancel(const std::string& jobId) override;
    /// MGET of the cancel keys.
    Result<std::vector<std::string>> cancelRequested(
        const std::vector<std::string>& jobIds) override;

    /// XADD <prefix>:events MAXLEN ~ 100000 * job <jobId> payload <payload>.
    Result<std::string> announce(const std::string& jobId, const std::string& payload) override;
    /// XRANGE <prefix>:events (afterId + COUNT max ("" → from "-"). Errors: InvalidArgument
    /// when afterId is not a stream id ("<ms>" or "<ms>-<seq>").
    Result<std::vector<QueueEvent>> events(const std::string& afterId, std::uint32_t max) override;

    /// The lease, ms.
    std::int64_t leaseMs() const override { return leaseMs_; }

private:
    RedisJobQueue(std::string url, RedisAddress address, std::string prefix, std::int64_t leaseMs)
        : url_(std::move(url)),
          address_(std::move(address)),
          prefix_(std::move(prefix)),
          leaseMs_(leaseMs) {}

    /// Whether a command may be sent again after its reply was lost.
    enum class Retry { Safe, OnlyIfUnsent };

    Result<void> reconnect();
    /// Runs one command; a broken connection is reopened once per call. A command that was
    /// fully sent but whose reply was lost is repeated only when `retry` is Safe.
    /// Errors: Internal (connection, or the server's error reply, with the url).
    /// An XADD (args in full, never repeated once sent); the new entry's id. Errors: command's,
    /// Internal for a reply that is not an id.
    Result<std::string> xadd(const std::vector<std::string>& args);
    Result<RedisReplyPtr> command(const std::vector<std::string>& args, Retry retry);
    /// One attempt; `sent` tells whether the whole command reached the socket.
    RedisReplyPtr attempt(const std::vector<std::string>& args, bool& sent);
    Error connectionError(const std::string& what) const;

    std::string streamKey() const { return prefix_ + ":jobs"; }

    std::string url_;
    RedisAddress address_;
    std::string prefix_;
    std::int64_t leaseMs_;
    RedisContextPtr context_;
};

}  // namespace fetchml
