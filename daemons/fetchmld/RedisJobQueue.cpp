#include "RedisJobQueue.hpp"

#include <sys/time.h>

#include <cctype>
#include <set>
#include <string_view>

namespace fetchml {

namespace {

constexpr std::int64_t kCancelTtlS = 604800;  // a week
constexpr const char* kEventsMaxLen = "100000";
// held() lists at most this many entries of one consumer (one host never runs that many).
constexpr const char* kHeldMax = "100000";
constexpr timeval kConnectTimeout{5, 0};
// A server that stops answering must not hang the caller forever.
constexpr timeval kCommandTimeout{10, 0};

// KEYS[1] stream; ARGV group, consumer, min-idle ms, count. XAUTOCLAIM from 0-0 following the
// cursor until `count` live entries or the end of the PEL; the delivery count of each from
// XPENDING. Entries deleted from the stream come back with nil fields (6.2, false in Lua) or
// only in the third element (7.0) and are skipped. COUNT is capped per call because Redis 7.0
// allocates an array of COUNT ids for the deleted ones up front.
// Returns {{id, fields, deliveries}, ...}.
constexpr const char* kReclaimScript = R"lua(
local count = tonumber(ARGV[4])
local out = {}
local cursor = '0-0'
repeat
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                       'COUNT', math.min(count - #out, 1000))
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if e[2] then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local deliveries = 1
      if p[1] then deliveries = p[1][4] end
      out[#out + 1] = {e[1], e[2], deliveries}
    end
  end
until cursor == '0-0' or #out >= count
return out
)lua";

// KEYS[1] stream; ARGV group, consumer, max. The consumer's PEL with each entry's fields, read
// only. Returns {{id, fields, deliveries}, ...}, oldest first.
constexpr const char* kHeldScript = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[3], ARGV[2])
local out = {}
for _, e in ipairs(p) do
  local r = redis.call('XRANGE', KEYS[1], e[1], e[1])
  if r[1] then out[#out + 1] = {r[1][1], r[1][2], e[4]} end
end
return out
)lua";

// KEYS[1] stream; ARGV group, consumer, ids... For each id the consumer holds, XCLAIM with
// min-idle 0 and JUSTID: idle time back to 0, delivery count unchanged. Returns the ids not
// held (another owner, not pending, or deleted: XCLAIM drops deleted entries in 7.0).
constexpr const char* kRenewScript = R"lua(
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local held = false
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p[1] and p[1][2] == ARGV[2] then
    local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
    held = #c > 0
  end
  if not held then lost[#lost + 1] = id end
end
return lost
)lua";

// KEYS[1] stream; ARGV group, consumer, id. XACK + XDEL when the consumer holds id; 1 or 0.
constexpr const char* kCompleteScript = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return 1
)lua";

// KEYS[1] stream; ARGV group. Entries in the stream not in the PEL: every entry in the stream
// is either undelivered or pending, since complete() acks and deletes together.
constexpr const char* kWaitingScript = R"lua(
local n = redis.call('XLEN', KEYS[1]) - redis.call('XPENDING', KEYS[1], ARGV[1])[1]
if n < 0 then n = 0 end
return n
)lua";

bool allDigits(std::string_view s) {
    if (s.empty() || s.size() > 20) {
        return false;
    }
    for (char c : s) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
            return false;
        }
    }
    return true;
}

// "<ms>-<seq>", as Redis generates them.
bool isFullStreamId(std::string_view id) {
    auto dash = id.find('-');
    return dash != std::string_view::npos && allDigits(id.substr(0, dash)) &&
           allDigits(id.substr(dash + 1));
}

// "<ms>" or "<ms>-<seq>" (https://redis.io/docs/data-types/streams/#entry-ids).
bool isStreamId(std::string_view id) {
    return allDigits(id) || isFullStreamId(id);
}

std::string replyString(const redisReply* reply) {
    if (reply != nullptr &&
        (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
         reply->type == REDIS_REPLY_ERROR)) {
        return std::string(reply->str, reply->len);
    }
    return "";
}

bool isArray(const redisReply* reply, std::size_t minElements = 0) {
    return reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements >= minElements;
}

// A stream entry's field list [job, <id>, payload, <json>] into jobId and payload.
void readFields(const redisReply* fields, std::string& jobId, std::string& payload) {
    if (!isArray(fields)) {
        return;
    }
    for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
        std::string name = replyString(fields->element[i]);
        if (name == "job") {
            jobId = replyString(fields->element[i + 1]);
        } else if (name == "payload") {
            payload = replyString(fields->element[i + 1]);
        }
    }
}

Error malformed(const std::string& what) {
    return makeError(ErrorCode::Internal, "unexpected reply from Redis to " + what);
}

// Script replies {{id, fields, deliveries}, ...} into entries.
Result<std::vector<QueueEntry>> entriesFromScript(const redisReply* reply, const char* what) {
    if (!isArray(reply)) {
        return malformed(what);
    }
    std::vector<QueueEntry> entries;
    for (std::size_t i = 0; i < reply->elements; ++i) {
        const redisReply* row = reply->element[i];
        if (!isArray(row, 3) || row->element[2]->type != REDIS_REPLY_INTEGER) {
            return malformed(what);
        }
        QueueEntry entry;
        entry.entryId = replyString(row->element[0]);
        readFields(row->element[1], entry.jobId, entry.payload);
        entry.deliveries = static_cast<std::uint32_t>(row->element[2]->integer);
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace

Result<RedisAddress> RedisJobQueue::parseUrl(const std::string& url) {
    auto invalid = [&](const std::string& why) {
        return makeError(ErrorCode::InvalidArgument, "queue.redis_url: " + why);
    };
    // Credentials would end up in this error message and in logs: refuse without echoing.
    if (url.find('@') != std::string::npos) {
        return invalid("credentials in the URL are not supported");
    }
    const std::string expected =
        "\"" + url + "\" is neither unix:///path/to/socket nor redis://host:port";
    RedisAddress address;
    constexpr std::string_view kUnix = "unix://";
    constexpr std::string_view kRedis = "redis://";
    if (url.starts_with(kUnix)) {
        address.socketPath = url.substr(kUnix.size());
        if (address.socketPath.size() < 2 || address.socketPath.front() != '/') {
            return invalid(expected + " (the socket path must be absolute)");
        }
        return address;
    }
    if (!url.starts_with(kRedis)) {
        return invalid(expected);
    }
    std::string rest = url.substr(kRedis.size());
    std::string port;
    if (rest.starts_with('[')) {
        auto close = rest.find(']');
        if (close == std::string::npos || rest.compare(close + 1, 1, ":") != 0) {
            return invalid(expected);
        }
        address.host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string::npos) {
            return invalid(expected + " (the port is missing)");
        }
        address.host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (address.host.find_first_of(":/") != std::string::npos) {
            return invalid(expected);
        }
    }
    if (address.host.empty() || !allDigits(port) || port.size() > 5 || std::stoi(port) < 1 ||
        std::stoi(port) > 65535) {
        return invalid(expected);
    }
    address.port = std::stoi(port);
    return address;
}

Result<std::unique_ptr<RedisJobQueue>> RedisJobQueue::connect(const std::string& url,
                                                              const std::string& prefix,
                                                              std::int64_t leaseMs) {
    auto address = parseUrl(url);
    if (!address) {
        return address.error();
    }
    if (prefix.empty()) {
        return makeError(ErrorCode::InvalidArgument, "queue.redis_prefix must not be empty");
    }
    if (leaseMs <= 0) {
        return makeError(ErrorCode::InvalidArgument, "the queue lease must be positive");
    }
    std::unique_ptr<RedisJobQueue> queue(
        new RedisJobQueue(url, std::move(*address), prefix, leaseMs));
    if (auto connected = queue->reconnect(); !connected) {
        return connected.error();
    }
    // Start at 0, not $: every entry in the stream is one not yet completed (complete()
    // deletes), so a group created over an existing stream must see all of them.
    auto created = queue->command({"XGROUP", "CREATE", queue->streamKey(), prefix, "0", "MKSTREAM"},
                                  Retry::Safe);
    if (!created && created.error().message.find("BUSYGROUP") == std::string::npos) {
        return created.error();
    }
    return queue;
}

Error RedisJobQueue::connectionError(const std::string& what) const {
    return makeError(ErrorCode::Internal, "Redis at " + url_ + ": " + what);
}

Result<void> RedisJobQueue::reconnect() {
    context_.reset();
    redisContext* raw =
        address_.socketPath.empty()
            ? redisConnectWithTimeout(address_.host.c_str(), address_.port, kConnectTimeout)
            : redisConnectUnixWithTimeout(address_.socketPath.c_str(), kConnectTimeout);
    if (raw == nullptr) {
        return connectionError("cannot allocate a connection");
    }
    RedisContextPtr context(raw);
    if (context->err != 0) {
        return connectionError(std::string("cannot connect: ") + context->errstr);
    }
    if (redisSetTimeout(context.get(), kCommandTimeout) != REDIS_OK) {
        return connectionError(std::string("cannot set the timeout: ") + context->errstr);
    }
    context_ = std::move(context);
    return {};
}

RedisReplyPtr RedisJobQueue::attempt(const std::vector<std::string>& args, bool& sent) {
    sent = false;
    if (!context_ || context_->err != 0) {
        return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    redisContext* c = context_.get();
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
        REDIS_OK) {
        return nullptr;
    }
    // Write by hand (what redisGetReply would do) to know whether the whole command left.
    int done = 0;
    while (done == 0) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            return nullptr;
        }
    }
    sent = true;
    void* reply = nullptr;
    if (redisGetReply(c, &reply) != REDIS_OK || reply == nullptr) {
        return nullptr;
    }
    return RedisReplyPtr(static_cast<redisReply*>(reply));
}

Result<RedisReplyPtr> RedisJobQueue::command(const std::vector<std::string>& args, Retry retry) {
    bool sent = false;
    RedisReplyPtr reply = attempt(args, sent);
    if (!reply) {
        const std::string first = context_ ? context_->errstr : "not connected";
        if (sent && retry == Retry::OnlyIfUnsent) {
            // The server may have applied it (an XADD, an INCR): repeating could duplicate a
            // job. Reconnect for the next call and let the caller decide.
            (void)reconnect();
            return connectionError(args[0] + " sent but no reply (" + first +
                                   "); it may have been applied");
        }
        if (auto again = reconnect(); !again) {
            return makeError(ErrorCode::Internal,
                             again.error().message + " (after " + args[0] + ": " + first + ")");
        }
        reply = attempt(args, sent);
        if (!reply) {
            return connectionError(args[0] + ": " +
                                   (context_ ? context_->errstr : "not connected"));
        }
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        return connectionError(args[0] + ": " + replyString(reply.get()));
    }
    return reply;
}

Result<void> RedisJobQueue::raiseJobSeq(std::int64_t atLeast) {
    static constexpr const char* kRaise =
        "local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
        "if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 0";
    auto reply =
        command({"EVAL", kRaise, "1", prefix_ + ":seq", std::to_string(atLeast)}, Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    return {};
}

Result<std::int64_t> RedisJobQueue::nextJobSeq() {
    auto reply = command({"INCR", prefix_ + ":seq"}, Retry::OnlyIfUnsent);
    if (!reply) {
        return reply.error();
    }
    if ((*reply)->type != REDIS_REPLY_INTEGER) {
        return malformed("INCR");
    }
    return static_cast<std::int64_t>((*reply)->integer);
}

Result<std::string> RedisJobQueue::xadd(const std::vector<std::string>& args) {
    auto reply = command(args, Retry::OnlyIfUnsent);
    if (!reply) {
        return reply.error();
    }
    std::string id = replyString(reply->get());
    if (id.empty()) {
        return malformed("XADD");
    }
    return id;
}

Result<std::string> RedisJobQueue::publish(const std::string& jobId, const std::string& payload) {
    return xadd({"XADD", streamKey(), "*", "job", jobId, "payload", payload});
}

Result<std::vector<QueueEntry>> RedisJobQueue::claim(const std::string& consumer,
                                                     std::uint32_t max) {
    if (consumer.empty()) {
        return makeError(ErrorCode::InvalidArgument, "the queue consumer must not be empty");
    }
    std::vector<QueueEntry> entries;
    if (max == 0) {
        return entries;  // COUNT 0 would mean "no limit"
    }
    // Safe to repeat: entries delivered by a lost reply sit in this consumer's PEL, where
    // held() and, once their lease lapses, reclaim() find them.
    auto reply = command({"XREADGROUP", "GROUP", prefix_, consumer, "COUNT", std::to_string(max),
                          "STREAMS", streamKey(), ">"},
                         Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    const redisReply* top = reply->get();
    if (top->type == REDIS_REPLY_NIL) {
        return entries;  // nothing waits
    }
    // [[key, [[id, [field, value, ...]], ...]]]
    if (!isArray(top, 1) || !isArray(top->element[0], 2) || !isArray(top->element[0]->element[1])) {
        return malformed("XREADGROUP");
    }
    const redisReply* list = top->element[0]->element[1];
    for (std::size_t i = 0; i < list->elements; ++i) {
        const redisReply* item = list->element[i];
        if (!isArray(item, 2)) {
            return malformed("XREADGROUP");
        }
        QueueEntry entry;
        entry.entryId = replyString(item->element[0]);
        readFields(item->element[1], entry.jobId, entry.payload);
        entry.deliveries = 1;
        entries.push_back(std::move(entry));
    }
    return entries;
}

Result<std::vector<QueueEntry>> RedisJobQueue::reclaim(const std::string& consumer,
                                                       std::uint32_t max) {
    if (consumer.empty()) {
        return makeError(ErrorCode::InvalidArgument, "the queue consumer must not be empty");
    }
    if (max == 0) {
        return std::vector<QueueEntry>{};
    }
    auto reply = command({"EVAL", kReclaimScript, "1", streamKey(), prefix_, consumer,
                          std::to_string(leaseMs_), std::to_string(max)},
                         Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    return entriesFromScript(reply->get(), "XAUTOCLAIM");
}

Result<std::vector<QueueEntry>> RedisJobQueue::held(const std::string& consumer) {
    auto reply =
        command({"EVAL", kHeldScript, "1", streamKey(), prefix_, consumer, kHeldMax}, Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    return entriesFromScript(reply->get(), "XPENDING");
}

Result<std::vector<std::string>> RedisJobQueue::renew(const std::string& consumer,
                                                      const std::vector<std::string>& entryIds) {
    std::vector<std::string> args{"EVAL", kRenewScript, "1", streamKey(), prefix_, consumer};
    for (const auto& id : entryIds) {
        // Partial ids ("5") would name a range in XPENDING; no entry has one.
        if (isFullStreamId(id)) {
            args.push_back(id);
        }
    }
    std::set<std::string> gone;
    if (args.size() > 6) {
        auto reply = command(args, Retry::Safe);
        if (!reply) {
            return reply.error();
        }
        if (!isArray(reply->get())) {
            return malformed("XCLAIM");
        }
        for (std::size_t i = 0; i < (*reply)->elements; ++i) {
            gone.insert(replyString((*reply)->element[i]));
        }
    }
    // In the caller's order.
    std::vector<std::string> lost;
    for (const auto& id : entryIds) {
        if (!isFullStreamId(id) || gone.contains(id)) {
            lost.push_back(id);
        }
    }
    return lost;
}

Result<void> RedisJobQueue::complete(const std::string& consumer, const std::string& entryId) {
    auto notHeld =
        makeError(ErrorCode::NotFound, "queue entry " + entryId + " is not held by " + consumer);
    if (!isFullStreamId(entryId)) {
        return notHeld;
    }
    // Repeating after a lost reply gives NotFound if the first one was applied.
    auto reply = command({"EVAL", kCompleteScript, "1", streamKey(), prefix_, consumer, entryId},
                         Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    if ((*reply)->type != REDIS_REPLY_INTEGER) {
        return malformed("XACK");
    }
    if ((*reply)->integer != 1) {
        return notHeld;
    }
    return {};
}

Result<std::uint64_t> RedisJobQueue::waiting() {
    auto reply = command({"EVAL", kWaitingScript, "1", streamKey(), prefix_}, Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    if ((*reply)->type != REDIS_REPLY_INTEGER) {
        return malformed("XLEN");
    }
    return static_cast<std::uint64_t>((*reply)->integer);
}

Result<void> RedisJobQueue::requestCancel(const std::string& jobId) {
    auto reply = command(
        {"SET", prefix_ + ":cancel:" + jobId, "1", "EX", std::to_string(kCancelTtlS)}, Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    return {};
}

Result<std::vector<std::string>> RedisJobQueue::cancelRequested(
    const std::vector<std::string>& jobIds) {
    std::vector<std::string> requested;
    if (jobIds.empty()) {
        return requested;
    }
    std::vector<std::string> args{"MGET"};
    for (const auto& id : jobIds) {
        args.push_back(prefix_ + ":cancel:" + id);
    }
    auto reply = command(args, Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    if (!isArray(reply->get(), jobIds.size())) {
        return malformed("MGET");
    }
    for (std::size_t i = 0; i < jobIds.size(); ++i) {
        if ((*reply)->element[i]->type != REDIS_REPLY_NIL) {
            requested.push_back(jobIds[i]);
        }
    }
    return requested;
}

Result<std::string> RedisJobQueue::announce(const std::string& jobId, const std::string& payload) {
    return xadd({"XADD", prefix_ + ":events", "MAXLEN", "~", kEventsMaxLen, "*", "job", jobId,
                 "payload", payload});
}

Result<std::vector<QueueEvent>> RedisJobQueue::events(const std::string& afterId,
                                                      std::uint32_t max) {
    if (!afterId.empty() && !isStreamId(afterId)) {
        return makeError(ErrorCode::InvalidArgument, "\"" + afterId + "\" is not a queue event id");
    }
    std::vector<QueueEvent> events;
    if (max == 0) {
        return events;
    }
    auto reply = command({"XRANGE", prefix_ + ":events", afterId.empty() ? "-" : "(" + afterId, "+",
                          "COUNT", std::to_string(max)},
                         Retry::Safe);
    if (!reply) {
        return reply.error();
    }
    if (!isArray(reply->get())) {
        return malformed("XRANGE");
    }
    for (std::size_t i = 0; i < (*reply)->elements; ++i) {
        const redisReply* item = (*reply)->element[i];
        if (!isArray(item, 2)) {
            return malformed("XRANGE");
        }
        QueueEvent event;
        event.eventId = replyString(item->element[0]);
        readFields(item->element[1], event.jobId, event.payload);
        events.push_back(std::move(event));
    }
    return events;
}

}  // namespace fetchml
