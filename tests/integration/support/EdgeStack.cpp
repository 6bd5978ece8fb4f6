#include "support/EdgeStack.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <vector>

namespace fetchml::test {

BusClient::BusClient(std::unique_ptr<sdbus::IConnection> connection)
    : ProxyInterfaces(std::move(connection), "org.fetchml.Scheduler1", "/org/fetchml/Scheduler1") {
    registerProxy();
}

BusClient::~BusClient() {
    unregisterProxy();
}

Stack::Stack(bool withScheduler, std::string extraConfig, std::string schedulerConfig)
    : bus_((mkdir(tmp.sub("bus").c_str(), 0755), tmp.sub("bus"))),
      extraConfig_(std::move(extraConfig)),
      schedulerConfig_(std::move(schedulerConfig)) {
    if (withScheduler) {
        startScheduler();
    }
    startEdge();
}

Stack::~Stack() {
    client.reset();
    stopEdge();
    if (scheduler_) {
        scheduler_->stop();
    }
}

void Stack::startScheduler() {
    writeFile(tmp.sub("fetchmld.yaml"), "paths:\n  state_dir: " + tmp.sub("state") +
                                            "\n  runtime_dir: " + tmp.sub("sched-run") +
                                            "\nlog:\n  level: debug\n  target: console\n" +
                                            schedulerConfig_);
    SpawnOptions o;
    o.argv = {binaryPath("fetchmld"), "--config", tmp.sub("fetchmld.yaml")};
    o.env = {bus_.envEntry()};
    o.stderrPath = tmp.sub("fetchmld.log");
    scheduler_.emplace(Process::spawn(o));
    bool up = bus_.waitForName("org.fetchml.Scheduler1", *scheduler_);
    INFO(readFile(tmp.sub("fetchmld.log")));
    REQUIRE(up);
    client =
        std::make_unique<BusClient>(sdbus::createSessionBusConnectionWithAddress(bus_.address()));
}

void Stack::startEdge() {
    ::unlink(portFile().c_str());
    writeFile(tmp.sub("edge.yaml"),
              "paths:\n  state_dir: " + tmp.sub("edge-state") + "\n  runtime_dir: " +
                  tmp.sub("run") + "\nlog:\n  level: info\n  target: console\n" +
                  "https:\n  address: 127.0.0.1\n  port: 0\n  threads: 2\n" + extraConfig_);
    SpawnOptions o;
    o.argv = {binaryPath("fetchml-httpsd"), "--config", tmp.sub("edge.yaml")};
    o.env = {bus_.envEntry()};
    o.stderrPath = edgeLog();
    o.stdoutPath = edgeLog();
    edge_.emplace(Process::spawn(o));
    bool up = waitUntil([&] { return !edge_->running() || !readFile(portFile()).empty(); });
    INFO(readFile(edgeLog()));
    REQUIRE(up);
    REQUIRE(edge_->running());
    port = std::stoi(readFile(portFile()));
}

int Stack::stopEdge() {
    int code = edge_ ? edge_->stop(SIGTERM) : -1;
    edge_.reset();
    return code;
}

Answer Stack::request(const std::string& method, const std::string& path, const std::string& key,
                      const std::string& body, const std::string& bodyFile,
                      const std::string& outFile, const std::string& extraHeader) {
    std::string out = outFile.empty() ? tmp.sub("curl.out") : outFile;
    std::vector<std::string> argv{"curl", "-sS", "--cacert", certFile(),     "-X", method,
                                  "-o",   out,   "-w",       "%{http_code}", "-K", "-"};
    if (!body.empty()) {
        writeFile(tmp.sub("curl.body"), body, 0600);
        argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary",
                                 "@" + tmp.sub("curl.body")});
    }
    if (!bodyFile.empty()) {
        argv.insert(argv.end(), {"-H", "Content-Type: application/octet-stream", "--data-binary",
                                 "@" + bodyFile});
    }
    if (!extraHeader.empty()) {
        argv.insert(argv.end(), {"-H", extraHeader});
    }
    argv.push_back(url(path));
    std::string config = key.empty() ? "" : "header = \"Authorization: Bearer " + key + "\"\n";
    auto result = run(argv, {}, std::nullopt, std::nullopt, config);
    if (result.exitCode != 0) {
        WARN("curl " << method << " " << path << ": " << result.err);
    }
    Answer answer;
    answer.status = std::atoi(result.out.c_str());
    if (outFile.empty()) {
        answer.body = readFile(out);
        rememberKeys(answer.body);
        ::unlink(out.c_str());
    }
    return answer;
}

CommandResult Stack::ctlLocal(std::vector<std::string> args) const {
    ::mkdir(tmp.sub("xdg").c_str(), 0755);
    args.insert(args.begin(), binaryPath("fetchmlctl"));
    return run(args, {busEnv(),
                      "FETCHML_SERVER=", "FETCHML_API_KEY=", "XDG_CONFIG_HOME=" + tmp.sub("xdg")});
}

CommandResult Stack::ctlRemote(std::vector<std::string> args, const std::string& apiKey) const {
    ::mkdir(tmp.sub("xdg").c_str(), 0755);
    args.insert(args.begin(), {binaryPath("fetchmlctl"), "--server", url(""), "--insecure"});
    return run(args, {"FETCHML_API_KEY=" + apiKey,
                      "FETCHML_SERVER=", "XDG_CONFIG_HOME=" + tmp.sub("xdg")});
}

}  // namespace fetchml::test
