#include "support/RedisServer.hpp"

#include <catch2/catch.hpp>

namespace fetchml::test {

RedisServer::RedisServer() {
    SpawnOptions options;
    options.argv = {
        "redis-server", "--port", "0",         "--unixsocket", socket(), "--unixsocketperm",
        "777",          "--dir",  dir_.path(), "--appendonly", "yes",    "--appendfsync",
        "always",       "--save", "",          "--daemonize",  "no"};
    options.stdoutPath = dir_.sub("redis.log");
    options.stderrPath = dir_.sub("redis.log");
    process_.emplace(Process::spawn(options));
    const bool up = waitUntil([this] {
        return process_->running() && cli({"ping"}).out.find("PONG") != std::string::npos;
    });
    INFO(readFile(dir_.sub("redis.log")));
    REQUIRE(up);
}

RedisServer::~RedisServer() {
    if (process_) {
        process_->stop();
    }
}

CommandResult RedisServer::cli(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"redis-cli", "-s", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

}  // namespace fetchml::test
