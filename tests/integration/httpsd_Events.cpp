// GET /v1/events for real: a private dbus-daemon with the project's policy, the real fetchmld,
// the real fetchml-httpsd, and WebSocket clients (Boost.Beast) over TLS on loopback. Jobs are
// submitted and cancelled through HTTPS (no worker: a job stays queued until cancelled), and
// each client sees the JobChanged events its role and user allow.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dbus/Scheduler1Proxy.h"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;
using VariantMap = std::map<std::string, sdbus::Variant>;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

class BusClient final : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit BusClient(std::unique_ptr<sdbus::IConnection> connection)
        : ProxyInterfaces(std::move(connection), "org.fetchml.Scheduler1",
                          "/org/fetchml/Scheduler1") {
        registerProxy();
    }
    ~BusClient() { unregisterProxy(); }

    std::string addUser(const std::string& name, const std::string& role) {
        auto added = AddUser({{"name", sdbus::Variant(name)}, {"role", sdbus::Variant(role)}});
        return added.at("api_key").get<std::string>();
    }

private:
    void onJobChanged(const std::string&, const std::string&, const VariantMap&) override {}
};

/// fetchmld and the edge on a private bus in a temp dir (as in httpsd_Edge.cpp).
class Stack {
public:
    Stack() : bus_((mkdir(tmp.sub("bus").c_str(), 0755), tmp.sub("bus"))) {
        writeFile(tmp.sub("fetchmld.yaml"), "paths:\n  state_dir: " + tmp.sub("state") +
                                                "\n  runtime_dir: " + tmp.sub("sched-run") +
                                                "\nlog:\n  level: debug\n  target: console\n");
        SpawnOptions o;
        o.argv = {binaryPath("fetchmld"), "--config", tmp.sub("fetchmld.yaml")};
        o.env = {bus_.envEntry()};
        o.stderrPath = tmp.sub("fetchmld.log");
        scheduler_.emplace(Process::spawn(o));
        bool up = bus_.waitForName("org.fetchml.Scheduler1", *scheduler_);
        INFO(readFile(tmp.sub("fetchmld.log")));
        REQUIRE(up);
        client = std::make_unique<BusClient>(
            sdbus::createSessionBusConnectionWithAddress(bus_.address()));

        writeFile(tmp.sub("edge.yaml"),
                  "paths:\n  state_dir: " + tmp.sub("edge-state") + "\n  runtime_dir: " +
                      tmp.sub("run") + "\nlog:\n  level: debug\n  target: console\n" +
                      "https:\n  address: 127.0.0.1\n  port: 0\n  threads: 2\n" +
                      "  rate_limit_per_minute: 600\n");
        SpawnOptions e;
        e.argv = {binaryPath("fetchml-httpsd"), "--config", tmp.sub("edge.yaml")};
        e.env = {bus_.envEntry()};
        e.stderrPath = edgeLog();
        e.stdoutPath = edgeLog();
        edge_.emplace(Process::spawn(e));
        std::string portFile = tmp.sub("run") + "/https.port";
        up = waitUntil([&] { return !edge_->running() || !readFile(portFile).empty(); });
        INFO(readFile(edgeLog()));
        REQUIRE(up);
        REQUIRE(edge_->running());
        port = std::stoi(readFile(portFile));
    }
    ~Stack() {
        client.reset();
        if (edge_) {
            edge_->stop(SIGTERM);
        }
        if (scheduler_) {
            scheduler_->stop();
        }
    }

    int stopEdge() {
        int code = edge_->stop(SIGTERM);
        edge_.reset();
        return code;
    }
    std::string edgeLog() const { return tmp.sub("edge.log"); }
    std::string certFile() const { return tmp.sub("edge-state") + "/tls/cert.pem"; }

    /// One HTTPS request with curl; the key goes through curl's config on stdin, never argv.
    /// Returns the status and the body.
    std::pair<int, std::string> request(const std::string& method, const std::string& path,
                                        const std::string& key, const std::string& body = "",
                                        const std::string& bodyFile = "") {
        std::string out = tmp.sub("curl.out");
        std::vector<std::string> argv{"curl", "-sS", "--cacert", certFile(),     "-X", method,
                                      "-o",   out,   "-w",       "%{http_code}", "-K", "-"};
        if (!body.empty()) {
            writeFile(tmp.sub("curl.body"), body, 0600);
            argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary",
                                     "@" + tmp.sub("curl.body")});
        }
        if (!bodyFile.empty()) {
            argv.insert(argv.end(), {"-H", "Content-Type: application/octet-stream",
                                     "--data-binary", "@" + bodyFile});
        }
        argv.push_back("https://127.0.0.1:" + std::to_string(port) + path);
        std::string config = key.empty() ? "" : "header = \"Authorization: Bearer " + key + "\"\n";
        auto result = run(argv, {}, std::nullopt, std::nullopt, config);
        std::string answer = readFile(out);
        ::unlink(out.c_str());
        return {std::atoi(result.out.c_str()), answer};
    }

    /// Uploads a one-file experiment as `key`'s user; returns its commit id.
    std::string uploadExperiment(const std::string& key) {
        std::string dir = tmp.sub("exp");
        mkdir(dir.c_str(), 0755);
        writeFile(dir + "/train.sh", "echo hello\n", 0755);
        auto manifest = fetchml::Manifest::scan(dir);
        REQUIRE(manifest.ok());
        std::vector<fetchml::PackItem> items;
        for (const auto& entry : manifest->entries()) {
            items.push_back({entry.sha256, dir + "/" + entry.path});
        }
        std::string packPath = tmp.sub("pack");
        int fd = ::open(packPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(fetchml::PackWriter(items).writeTo(fd).ok());
        ::close(fd);
        REQUIRE(request("POST", "/v1/blobs", key, "", packPath).first == 200);
        // The manifest goes over the bus with the same key (the HTTPS route is tested in
        // httpsd_Edge).
        client->PutManifest(
            {{"manifest", sdbus::Variant(manifest->text())}, {"api_key", sdbus::Variant(key)}});
        return manifest->commitId();
    }

    /// Submits a job through HTTPS as `key`'s user; returns its id.
    std::string submit(const std::string& key, const std::string& commit) {
        json job{{"commit", commit}, {"command", {"sh", "train.sh"}}, {"image", "rootfs:busybox"}};
        auto answer = request("POST", "/v1/jobs", key, job.dump());
        INFO(answer.second);
        REQUIRE(answer.first == 201);
        return json::parse(answer.second)["id"];
    }

    TempDir tmp;
    std::unique_ptr<BusClient> client;
    int port = 0;

private:
    DbusDaemon bus_;
    std::optional<Process> scheduler_;
    std::optional<Process> edge_;
};

/// A WebSocket client of /v1/events over TLS, trusting the edge's generated certificate.
/// Every wait is bounded (a safety net against hangs, not a timing assertion).
class EventClient {
public:
    explicit EventClient(const Stack& stack)
        : tls_(asio::ssl::context::tls_client), ws_(io_, tls_) {
        tls_.load_verify_file(stack.certFile());
        tls_.set_verify_mode(asio::ssl::verify_peer);
        port_ = stack.port;
    }

    /// Connects and asks for the upgrade with `key` ("" = no Authorization header). Returns
    /// the HTTP status of the answer: 101 when upgraded.
    int connect(const std::string& key) {
        auto& tcp = beast::get_lowest_layer(ws_);
        tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
        ws_.next_layer().handshake(asio::ssl::stream_base::client);
        ws_.set_option(websocket::stream_base::decorator([key](websocket::request_type& req) {
            if (!key.empty()) {
                req.set(beast::http::field::authorization, "Bearer " + key);
            }
        }));
        websocket::response_type response;
        beast::error_code ec;
        ws_.handshake(response, "127.0.0.1", "/v1/events", ec);
        body_ = response.body();
        return static_cast<int>(response.result_int());
    }

    /// The body of a refused upgrade.
    const std::string& body() const { return body_; }

    /// The next message, or nullopt when the connection ended (then closeCode() says how)
    /// or nothing came for 60 s.
    std::optional<json> next() {
        beast::flat_buffer buffer;
        bool done = false;
        ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
            error_ = ec;
            done = true;
        });
        io_.restart();
        io_.run_for(std::chrono::seconds(60));
        if (!done) {
            beast::get_lowest_layer(ws_).close();
            io_.restart();
            io_.run();
            return std::nullopt;
        }
        if (error_) {
            return std::nullopt;
        }
        return json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    }

    /// The next message of type "job".
    std::optional<json> nextJob() {
        while (auto message = next()) {
            if ((*message)["type"] == "job") {
                return message;
            }
        }
        return std::nullopt;
    }

    void send(const std::string& text) {
        ws_.text(true);
        ws_.write(asio::buffer(text));
    }

    /// The close code the server sent (0 if none).
    int closeCode() const { return static_cast<int>(ws_.reason().code); }
    const beast::error_code& error() const { return error_; }

private:
    asio::io_context io_;
    asio::ssl::context tls_;
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_;
    int port_ = 0;
    std::string body_;
    beast::error_code error_;
};

}  // namespace

TEST_CASE("/v1/events: live job states by role, message cap, authentication", "[httpsd][events]") {
    Stack stack;
    std::string alice = stack.client->addUser("alice", "researcher");
    std::string bob = stack.client->addUser("bob", "researcher");
    std::string carol = stack.client->addUser("carol", "viewer");

    // No key, a bad key, no upgrade: refused before any WebSocket exists.
    auto upgrade = [&](const std::string& key) {
        std::string config = key.empty() ? "" : "header = \"Authorization: Bearer " + key + "\"\n";
        return run({"curl", "-sS", "--cacert", stack.certFile(), "-o", stack.tmp.sub("ws.out"),
                    "-w", "%{http_code}", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                    "-H", "Sec-WebSocket-Version: 13", "-H",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-K", "-",
                    "https://127.0.0.1:" + std::to_string(stack.port) + "/v1/events"},
                   {}, std::nullopt, std::nullopt, config)
            .out;
    };
    CHECK(upgrade("") == "401");
    CHECK(json::parse(readFile(stack.tmp.sub("ws.out")))["error"]["code"] == "Unauthenticated");
    CHECK(upgrade("fml_0123456789ab_notarealkeynotarealkeynotarealkeyxx") == "401");
    CHECK(stack.request("GET", "/v1/events", alice).first == 426);

    EventClient aliceEvents(stack);
    REQUIRE(aliceEvents.connect(alice) == 101);
    auto ready = aliceEvents.next();
    REQUIRE(ready);
    CHECK(*ready == json{{"type", "ready"}, {"user", "alice"}, {"role", "researcher"}});
    EventClient bobEvents(stack);
    REQUIRE(bobEvents.connect(bob) == 101);
    REQUIRE(bobEvents.next().has_value());
    EventClient carolEvents(stack);
    REQUIRE(carolEvents.connect(carol) == 101);
    REQUIRE(carolEvents.next().has_value());

    // A bad filter is answered with an error and the connection stays.
    bobEvents.send(R"({"jobz":[]})");
    auto refused = bobEvents.next();
    REQUIRE(refused);
    CHECK((*refused)["type"] == "error");
    CHECK((*refused)["error"]["message"] == "unknown field 'jobz'");
    bobEvents.send(R"({"jobs":null})");
    auto subscribed = bobEvents.next();
    REQUIRE(subscribed);
    CHECK(*subscribed == json{{"type", "subscribed"}, {"jobs", nullptr}});

    // Alice's job: queued, then cancelled; alice and the viewer see both.
    std::string commit = stack.uploadExperiment(alice);
    std::string id = stack.submit(alice, commit);
    REQUIRE(stack.request("POST", "/v1/jobs/" + id + "/cancel", alice).first == 200);
    for (EventClient* watcher : {&aliceEvents, &carolEvents}) {
        auto queued = watcher->nextJob();
        REQUIRE(queued);
        CHECK((*queued)["id"] == id);
        CHECK((*queued)["state"] == "queued");
        CHECK((*queued)["props"]["user"] == "alice");
        auto cancelled = watcher->nextJob();
        REQUIRE(cancelled);
        CHECK((*cancelled)["id"] == id);
        CHECK((*cancelled)["state"] == "cancelled");
    }

    // Bob sees none of that: the first job event he gets is his own, submitted after.
    std::string bobsJob = stack.submit(bob, commit);
    auto own = bobEvents.nextJob();
    REQUIRE(own);
    CHECK((*own)["id"] == bobsJob);
    CHECK((*own)["props"]["user"] == "bob");
    // ... and alice does not see bob's: a filter ack comes next, not bob's job.
    aliceEvents.send(R"({"jobs":["j999999"]})");
    auto ack = aliceEvents.next();
    REQUIRE(ack);
    CHECK((*ack)["type"] == "subscribed");

    // A message over https.ws_max_message_bytes (4096) closes the connection with 1009.
    aliceEvents.send(R"({"jobs":[")" + std::string(5000, 'j') + R"("]})");
    CHECK_FALSE(aliceEvents.next().has_value());
    CHECK(aliceEvents.error() == websocket::error::closed);
    CHECK(aliceEvents.closeCode() == 1009);

    // A graceful stop closes the event clients with 1001 (going away) and exits 0.
    CHECK(stack.stopEdge() == 0);
    while (carolEvents.next()) {
        // the viewer also saw bob's job
    }
    CHECK(carolEvents.closeCode() == 1001);

    std::string log = readFile(stack.edgeLog());
    for (const std::string& key : {alice, bob, carol}) {
        CHECK(log.find(key) == std::string::npos);
    }
    CHECK(log.find("\"GET /v1/events\" 101") != std::string::npos);
    CHECK(log.find("\"GET /v1/events\" 401") != std::string::npos);
}
