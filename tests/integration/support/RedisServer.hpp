#pragma once
// RedisServer: a real redis-server for a test, on a Unix socket in its own temporary
// directory (no TCP port), with the append-only file fsynced on every write, as the shared
// queue's deployment guide asks. Stopped by its PID in the destructor.

#include <optional>
#include <string>

#include "support/Support.hpp"

namespace fetchml::test {

class RedisServer {
public:
    /// Starts redis-server and waits (waitUntil's safety net) until `redis-cli ping` answers;
    /// REQUIREs that it does. The socket is mode 0777 so the daemons' users reach it.
    RedisServer();
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    /// "unix://<dir>/redis.sock", for queue.redis_url.
    std::string url() const { return "unix://" + socket(); }
    /// The socket's path.
    std::string socket() const { return dir_.sub("redis.sock"); }
    /// redis-cli with args against this server; its output.
    CommandResult cli(const std::vector<std::string>& args) const;

private:
    TempDir dir_;
    std::optional<Process> process_;
};

}  // namespace fetchml::test
