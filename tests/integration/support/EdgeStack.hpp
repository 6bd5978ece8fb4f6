#pragma once
// EdgeStack: fetchml-httpsd (and optionally fetchmld) on a private D-Bus system bus in a
// temporary directory, for integration tests of the edge. The edge binds 127.0.0.1 port 0 and
// the port is read from <runtime_dir>/https.port; requests go through curl with the key on
// curl's stdin config, never argv.

#include <sys/types.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dbus/Scheduler1Proxy.h"
#include "support/Support.hpp"

namespace fetchml::test {

using VariantMap = std::map<std::string, sdbus::Variant>;

/// The generated Scheduler1 proxy on its own connection (signals ignored).
class BusClient final : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit BusClient(std::unique_ptr<sdbus::IConnection> connection);
    ~BusClient();

private:
    void onJobChanged(const std::string&, const std::string&, const VariantMap&) override {}
};

/// An HTTPS answer.
struct Answer {
    int status = 0;
    std::string body;
    nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

/// The edge (and, with withScheduler, fetchmld) on a private bus in a temp dir.
class Stack {
public:
    /// extraConfig: YAML lines appended under the edge's "https:" section;
    /// schedulerConfig: YAML appended to fetchmld's config (whole sections).
    explicit Stack(bool withScheduler, std::string extraConfig = "",
                   std::string schedulerConfig = "");
    ~Stack();

    /// Starts fetchmld and waits for its bus name; sets `client`.
    void startScheduler();
    /// Starts fetchml-httpsd and waits for its port file; sets `port`.
    void startEdge();
    /// SIGTERM to the edge; its exit code.
    int stopEdge();

    std::string portFile() const { return tmp.sub("run") + "/https.port"; }
    pid_t edgePid() { return edge_ ? edge_->pid() : -1; }
    std::string edgeLog() const { return tmp.sub("edge.log"); }
    std::string schedulerLog() const { return tmp.sub("fetchmld.log"); }
    std::string certFile() const { return tmp.sub("edge-state") + "/tls/cert.pem"; }
    std::string busAddress() const { return bus_.address(); }
    std::string busEnv() const { return bus_.envEntry(); }
    std::string url(const std::string& path) const {
        return "https://127.0.0.1:" + std::to_string(port) + path;
    }

    /// fetchmlctl as this test's Unix user over the private system bus, with
    /// XDG_CONFIG_HOME=tmp/xdg (created) so that no client.yaml of the machine applies.
    CommandResult ctlLocal(std::vector<std::string> args) const;
    /// fetchmlctl with apiKey through the edge (HTTPS; the test certificate is not pinned),
    /// XDG_CONFIG_HOME as for ctlLocal.
    CommandResult ctlRemote(std::vector<std::string> args, const std::string& apiKey) const;

    /// One request with curl, verifying the server against the generated certificate. The key
    /// goes through curl's config on stdin, never argv. bodyFile "" = none; output to outFile
    /// (or captured).
    Answer request(const std::string& method, const std::string& path, const std::string& key,
                   const std::string& body = "", const std::string& bodyFile = "",
                   const std::string& outFile = "", const std::string& extraHeader = "");

    TempDir tmp;
    std::unique_ptr<BusClient> client;
    int port = 0;

private:
    DbusDaemon bus_;
    std::string extraConfig_;
    std::string schedulerConfig_;
    std::optional<Process> scheduler_;
    std::optional<Process> edge_;
};

}  // namespace fetchml::test
