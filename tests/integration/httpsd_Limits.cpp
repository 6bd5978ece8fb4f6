// fetchml-httpsd's resource limits and TLS configuration, attacked for real: hundreds of slow
// half-sent requests, connection floods over the caps, a trickling client (slowloris),
// bodies of 200 MiB against 1 MiB caps while the server's memory is watched, and openssl
// s_client handshakes the Mozilla "intermediate" configuration must refuse. The edge runs on
// a private dbus-daemon (no fetchmld: these requests never need it) and binds 127.0.0.1 with
// port 0; the test reads the port from <runtime_dir>/https.port. Raw TLS clients are
// OpenSSL on blocking sockets bound to a chosen loopback address (127.0.0.1, 127.0.0.2, ...).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/Support.hpp"

using namespace fetchml::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
const std::string kFakeKey = "fml_0123456789ab_notarealsecretnotarealsecretnotarealsecret";

/// fetchml-httpsd alone on a private bus, with extra lines for its https section.
class Edge {
public:
    explicit Edge(const std::string& extraConfig)
        : bus_((mkdir(tmp.sub("bus").c_str(), 0755), tmp.sub("bus"))) {
        writeFile(tmp.sub("edge.yaml"),
                  "paths:\n  state_dir: " + tmp.sub("edge-state") + "\n  runtime_dir: " +
                      tmp.sub("run") + "\nlog:\n  level: info\n  target: console\n" +
                      "https:\n  address: 127.0.0.1\n  port: 0\n  threads: 1\n" +
                      "  rate_limit_per_minute: 0\n" + extraConfig);
        SpawnOptions o;
        o.argv = {binaryPath("fetchml-httpsd"), "--config", tmp.sub("edge.yaml")};
        o.env = {bus_.envEntry()};
        o.stderrPath = log();
        o.stdoutPath = log();
        process_.emplace(Process::spawn(o));
        std::string portFile = tmp.sub("run") + "/https.port";
        bool up = waitUntil([&] { return !process_->running() || !readFile(portFile).empty(); });
        INFO(readFile(log()));
        REQUIRE(up);
        REQUIRE(process_->running());
        port = std::stoi(readFile(portFile));
    }
    ~Edge() {
        if (process_) {
            process_->stop(SIGTERM);
        }
    }
    std::string log() const { return tmp.sub("edge.log"); }
    std::string certFile() const { return tmp.sub("edge-state") + "/tls/cert.pem"; }
    pid_t pid() const { return process_->pid(); }
    bool running() { return process_->running(); }

    /// A field of /proc/<pid>/status in KiB (VmHWM, VmRSS), or -1.
    long statusKib(const std::string& field) const {
        std::string status = readFile("/proc/" + std::to_string(pid()) + "/status");
        auto at = status.find(field + ":");
        return at == std::string::npos ? -1 : std::atol(status.c_str() + at + field.size() + 1);
    }

    TempDir tmp;
    int port = 0;

private:
    DbusDaemon bus_;
    std::optional<Process> process_;
};

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
};

/// A client SSL_CTX for TLS 1.2 up to `maxVersion`; the server's certificate is not checked
/// (these tests are about the transport, httpsd_Edge checks the certificate).
std::unique_ptr<SSL_CTX, SslCtxFree> clientContext(int maxVersion = TLS1_3_VERSION) {
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx.get(), maxVersion);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
}

/// One TLS connection from a chosen loopback address, on a blocking socket.
class TlsClient {
public:
    /// Connects from `from` to 127.0.0.1:port; with handshake, also completes TLS. Returns
    /// nullopt when the TCP connect or the handshake fails.
    static std::optional<TlsClient> open(SSL_CTX* ctx, const std::string& from, int port,
                                         bool handshake = true) {
        TlsClient client;
        client.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(client.fd_ >= 0);
        timeval tv{30, 0};  // a safety net against a hang, not a timing assertion
        ::setsockopt(client.fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(client.fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
        REQUIRE(::bind(client.fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
        sockaddr_in remote{};
        remote.sin_family = AF_INET;
        remote.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
        if (::connect(client.fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
            return std::nullopt;
        }
        client.ssl_.reset(SSL_new(ctx));
        SSL_set_fd(client.ssl_.get(), client.fd_);
        if (handshake && SSL_connect(client.ssl_.get()) != 1) {
            ERR_clear_error();
            return std::nullopt;
        }
        return client;
    }

    TlsClient() = default;
    TlsClient(TlsClient&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), ssl_(std::move(other.ssl_)) {}
    TlsClient& operator=(TlsClient&&) = delete;
    ~TlsClient() {
        ssl_.reset();
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    SSL* ssl() { return ssl_.get(); }
    int fd() const { return fd_; }

    /// Writes all of `data`; false on any failure.
    bool send(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            int n = SSL_write(ssl_.get(), data.data() + done, static_cast<int>(data.size() - done));
            if (n <= 0) {
                ERR_clear_error();
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    /// Reads until the peer closes (or an error / the socket timeout).
    std::string readAll() {
        std::string out;
        char buffer[16384];
        for (;;) {
            int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
            if (n <= 0) {
                ERR_clear_error();
                return out;
            }
            out.append(buffer, static_cast<std::size_t>(n));
        }
    }

    /// True while the server has neither closed nor answered: no application data and no
    /// EOF. Read at the TLS level, so post-handshake records (TLS 1.3 session tickets) that
    /// may sit in the socket do not count as an answer.
    bool quietAndOpen() {
        int flags = ::fcntl(fd_, F_GETFL);
        ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
        char byte;
        int n = SSL_read(ssl_.get(), &byte, 1);
        int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), n);
        ERR_clear_error();
        ::fcntl(fd_, F_SETFL, flags);
        return n <= 0 && err == SSL_ERROR_WANT_READ;
    }

    /// Sends `head`, then streams `bodyBytes` of '{' (as chunks of 64 KiB when chunked) while
    /// reading the answer; stops sending when the server stops taking data. Returns what the
    /// server sent before it closed.
    std::string streamBody(const std::string& head, std::uint64_t bodyBytes, bool chunked);

private:
    int fd_ = -1;
    std::unique_ptr<SSL, SslFree> ssl_;
};

std::string TlsClient::streamBody(const std::string& head, std::uint64_t bodyBytes, bool chunked) {
    REQUIRE(send(head));
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const std::string piece(64 * 1024, '{');
    std::string chunk = chunked ? "10000\r\n" + piece + "\r\n" : piece;
    std::uint64_t sent = 0;
    std::size_t offset = 0;  // into chunk, of a partly written piece
    bool sending = true;
    std::string answer;
    auto deadline = std::chrono::steady_clock::now() + 300s;  // against a hang only
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd_, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        ::poll(&p, 1, 200);
        char buffer[16384];
        int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
        if (n > 0) {
            answer.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        int err = SSL_get_error(ssl_.get(), n);
        ERR_clear_error();
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            return answer;  // closed (or reset) by the server
        }
        if (sending && sent < bodyBytes) {
            int w = SSL_write(ssl_.get(), chunk.data() + offset,
                              static_cast<int>(chunk.size() - offset));
            if (w > 0) {
                offset += static_cast<std::size_t>(w);
                if (offset == chunk.size()) {
                    offset = 0;
                    sent += piece.size();
                }
            } else {
                int werr = SSL_get_error(ssl_.get(), w);
                ERR_clear_error();
                sending = werr == SSL_ERROR_WANT_WRITE || werr == SSL_ERROR_WANT_READ;
            }
        }
    }
    return answer;
}

/// "GET /health" from `from`, on its own connection; the whole answer ("" on failure).
std::string healthFrom(SSL_CTX* ctx, const std::string& from, int port) {
    auto client = TlsClient::open(ctx, from, port);
    if (!client) {
        return "";
    }
    client->send("GET /health HTTP/1.1\r\nHost: fetchml\r\nConnection: close\r\n\r\n");
    return client->readAll();
}

bool isHealthy(const std::string& answer) {
    return answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
           answer.find("{\"status\":\"ok\"}") != std::string::npos;
}

std::size_t countOf(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

/// `openssl s_client` against the edge; stdin is `input`. Returns stdout + stderr and sets
/// *established when a session with a cipher was negotiated.
std::string sClient(const Edge& edge, const std::vector<std::string>& args, bool* established,
                    const std::string& input = "Q\n") {
    std::vector<std::string> argv{"openssl", "s_client", "-connect",
                                  "127.0.0.1:" + std::to_string(edge.port)};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, {}, std::nullopt, std::nullopt, input);
    *established = r.out.find("Cipher is (NONE)") == std::string::npos &&
                   r.out.find("New, TLSv1.") != std::string::npos;
    return r.out + r.err;
}

}  // namespace

TEST_CASE("200 slow half-sent requests do not keep others out", "[httpsd][limits]") {
    // Caps above what this test opens, and a header deadline longer than the test: the slow
    // requests stay open for as long as it runs.
    Edge edge("  max_connections_per_address: 250\n  header_timeout_s: 600\n");
    auto ctx = clientContext();
    std::vector<TlsClient> slow;
    for (int i = 0; i < 200; ++i) {
        auto client = TlsClient::open(ctx.get(), "127.0.0.1", edge.port);
        REQUIRE(client);
        REQUIRE(client->send("GET /v1/jobs HTTP/1.1\r\nHost: fetchml\r\nX-Slow: "));
        slow.push_back(std::move(*client));
    }
    // A normal request from another address, and one from the slow clients' own address.
    std::string other = healthFrom(ctx.get(), "127.0.0.2", edge.port);
    INFO(other);
    CHECK(isHealthy(other));
    CHECK(isHealthy(healthFrom(ctx.get(), "127.0.0.1", edge.port)));
    // The slow requests are still open and unanswered: they were held, not dropped.
    std::size_t open = 0;
    for (auto& client : slow) {
        open += client.quietAndOpen() ? 1 : 0;
    }
    CHECK(open == 200);
    std::string log = readFile(edge.log());
    CHECK(countOf(log, "\"GET /health\" 200") == 2);
    CHECK(log.find("/v1/jobs") == std::string::npos);
    CHECK(edge.running());
}

TEST_CASE("connection caps close connections before TLS and log once a minute",
          "[httpsd][limits]") {
    Edge edge("  max_connections_per_address: 5\n  max_connections: 8\n");
    auto ctx = clientContext();
    std::vector<TlsClient> held;
    for (int i = 0; i < 5; ++i) {
        auto client = TlsClient::open(ctx.get(), "127.0.0.1", edge.port);
        REQUIRE(client);
        held.push_back(std::move(*client));
    }
    // Over the per-address cap: accepted by the kernel, closed by the edge before TLS.
    int refused = 0;
    for (int i = 0; i < 15; ++i) {
        refused += TlsClient::open(ctx.get(), "127.0.0.1", edge.port) ? 0 : 1;
    }
    CHECK(refused == 15);
    // Another address is not affected.
    CHECK(isHealthy(healthFrom(ctx.get(), "127.0.0.2", edge.port)));
    // Fill the total: 5 from .1 and 3 from .3. Wait until the .2 connection is released.
    REQUIRE(waitUntil([&] {
        auto client = TlsClient::open(ctx.get(), "127.0.0.3", edge.port);
        if (client) {
            held.push_back(std::move(*client));
        }
        return held.size() == 8;
    }));
    CHECK_FALSE(TlsClient::open(ctx.get(), "127.0.0.2", edge.port));
    CHECK_FALSE(TlsClient::open(ctx.get(), "127.0.0.4", edge.port));
    // One closes; a new one fits again.
    held.pop_back();
    std::string answer;
    REQUIRE(waitUntil([&] {
        answer = healthFrom(ctx.get(), "127.0.0.2", edge.port);
        return !answer.empty();
    }));
    CHECK(isHealthy(answer));
    // One warning per address in the minute, however many were refused.
    std::string log = readFile(edge.log());
    INFO(log);
    CHECK(countOf(log,
                  "refused 127.0.0.1: 5 connections open from this address "
                  "(https.max_connections_per_address)") == 1);
    CHECK(countOf(log, "refused 127.0.0.1:") == 1);
    CHECK(countOf(log, "refused 127.0.0.2: 8 connections open in all (https.max_connections)") ==
          1);
    CHECK(countOf(log, "refused 127.0.0.4: 8 connections open in all") == 1);
}

TEST_CASE("a request trickled a byte at a time is cut off by the header deadline",
          "[httpsd][limits]") {
    // Every byte comes well within the read and idle timeouts; only the total deadline for
    // the request line and headers can end it.
    Edge edge("  header_timeout_s: 2\n  idle_timeout_s: 600\n  read_timeout_s: 600\n");
    auto ctx = clientContext();
    auto client = TlsClient::open(ctx.get(), "127.0.0.1", edge.port);
    REQUIRE(client);
    std::string request =
        "GET /health HTTP/1.1\r\nHost: fetchml\r\nX-Slow: " + std::string(4000, 'a') + "\r\n\r\n";
    std::size_t sent = 0;
    bool cut = false;
    // 0.5 s a byte for at most 120 s: the deadline is 2 s, the safety net 60 times that.
    while (sent < 240 && !cut) {
        std::this_thread::sleep_for(500ms);
        cut = !client->quietAndOpen() || !client->send(request.substr(sent, 1));
        ++sent;
    }
    CHECK(cut);
    CHECK(client->readAll().empty());  // closed without an answer
    CHECK(sent < 240);
    // The server serves on.
    CHECK(isHealthy(healthFrom(ctx.get(), "127.0.0.2", edge.port)));
}

TEST_CASE("oversized bodies get 413 and the server's memory does not grow by their size",
          "[httpsd][limits]") {
    Edge edge("  max_json_bytes: 1048576\n  max_body_bytes: 4194304\n");
    auto ctx = clientContext();
    REQUIRE(isHealthy(healthFrom(ctx.get(), "127.0.0.1", edge.port)));
    long hwmBefore = edge.statusKib("VmHWM");
    long rssBefore = edge.statusKib("VmRSS");
    REQUIRE(hwmBefore > 0);

    const std::uint64_t huge = 200 * kMiB;
    struct Case {
        std::string path;
        std::string contentType;
        std::uint64_t size;
        bool chunked;
    };
    std::vector<Case> cases{
        {"/v1/jobs", "application/json", huge, false},           // announced, far over
        {"/v1/jobs", "application/json", huge, true},            // chunked, cut while it streams
        {"/v1/jobs", "application/json", 2 * kMiB, false},       // over the JSON cap only
        {"/v1/blobs", "application/octet-stream", huge, false},  // upload cap, announced
        {"/v1/blobs", "application/octet-stream", huge, true},   // upload cap, streamed
    };
    for (const auto& c : cases) {
        INFO(c.path << " " << c.size << (c.chunked ? " chunked" : " with Content-Length"));
        auto client = TlsClient::open(ctx.get(), "127.0.0.1", edge.port);
        REQUIRE(client);
        std::string head = "POST " + c.path +
                           " HTTP/1.1\r\nHost: fetchml\r\nAuthorization: " + "Bearer " + kFakeKey +
                           "\r\nContent-Type: " + c.contentType + "\r\n" +
                           (c.chunked ? std::string("Transfer-Encoding: chunked\r\n")
                                      : "Content-Length: " + std::to_string(c.size) + "\r\n") +
                           "\r\n";
        std::string answer = client->streamBody(head, c.size, c.chunked);
        CHECK(answer.rfind("HTTP/1.1 413 ", 0) == 0);
        CHECK(answer.find("\"InvalidArgument\"") != std::string::npos);
        CHECK(edge.running());
    }
    long hwmAfter = edge.statusKib("VmHWM");
    long rssAfter = edge.statusKib("VmRSS");
    INFO("VmHWM " << hwmBefore << " -> " << hwmAfter << " KiB, VmRSS " << rssBefore << " -> "
                  << rssAfter << " KiB");
    // Each body was 200 MiB; growth of a quarter of that would mean it was buffered.
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer keeps freed memory in quarantine (256 MiB by default), so the figures
    // mean nothing here; the build without sanitizers (FETCHML_SANITIZE=0 scripts/test)
    // checks them.
    WARN("AddressSanitizer build: memory growth not checked");
#else
    CHECK(hwmAfter - hwmBefore < static_cast<long>(huge / 4 / 1024));
    CHECK(rssAfter - rssBefore < static_cast<long>(huge / 4 / 1024));
#endif
    WARN("VmHWM " << hwmBefore << " -> " << hwmAfter << " KiB");
    std::string log = readFile(edge.log());
    CHECK(countOf(log, "\"POST /v1/jobs\" 413") == 3);
    CHECK(countOf(log, "\"POST /v1/blobs\" 413") == 2);
    CHECK(isHealthy(healthFrom(ctx.get(), "127.0.0.1", edge.port)));
}

TEST_CASE("TLS: only 1.2 and 1.3, intermediate ciphers, no compression, no renegotiation",
          "[httpsd][limits][tls]") {
    Edge edge("");
    bool ok = false;
    std::string out;
    // Old protocol versions, even from a client that allows everything.
    out = sClient(edge, {"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, &ok);
    CHECK_FALSE(ok);
    out = sClient(edge, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, &ok);
    CHECK_FALSE(ok);
    // TLS 1.2 with a suite outside the intermediate list (no forward secrecy, CBC, SHA-1).
    out = sClient(edge, {"-tls1_2", "-cipher", "AES128-SHA"}, &ok);
    CHECK_FALSE(ok);
    out = sClient(edge, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, &ok);
    CHECK_FALSE(ok);
    // An intermediate suite: accepted, without compression or a session ticket.
    out = sClient(edge, {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, &ok);
    INFO(out);
    CHECK(ok);
    CHECK(out.find("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256") != std::string::npos);
    CHECK(out.find("Compression: NONE") != std::string::npos);
    CHECK(out.find("session ticket lifetime hint") == std::string::npos);
    // The server's preference wins over the client's order.
    out = sClient(edge,
                  {"-tls1_2", "-cipher",
                   "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                   "ECDHE-ECDSA-AES128-GCM-SHA256"},
                  &ok);
    CHECK(ok);
    CHECK(out.find("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256") != std::string::npos);
    // Key exchange: X25519 first; a group outside the list is refused.
    out = sClient(edge, {"-tls1_3"}, &ok);
    CHECK(ok);
    CHECK(out.find("New, TLSv1.3") != std::string::npos);
    CHECK(out.find("Server Temp Key: X25519") != std::string::npos);
    CHECK(out.find("Compression: NONE") != std::string::npos);
    out = sClient(edge, {"-tls1_3", "-groups", "secp521r1"}, &ok);
    CHECK_FALSE(ok);
    out = sClient(edge, {"-tls1_3", "-groups", "secp384r1"}, &ok);
    CHECK(ok);

    // Client-initiated renegotiation (TLS 1.2): s_client's "R" command is refused (stdin is
    // kept open a while so that s_client reads the answer before it sees EOF) ...
    auto r = run({"sh", "-c",
                  "(printf 'R\\n'; sleep 5) | openssl s_client -tls1_2 -connect 127.0.0.1:" +
                      std::to_string(edge.port)});
    out = r.out + r.err;
    INFO(out);
    CHECK(out.find("New, TLSv1.2") != std::string::npos);
    CHECK(out.find("RENEGOTIATING") != std::string::npos);
    CHECK(out.find(":no renegotiation:") != std::string::npos);
    // ... and so is SSL_renegotiate from code: the server answers no_renegotiation, which
    // ends the connection.
    auto ctx = clientContext(TLS1_2_VERSION);
    auto client = TlsClient::open(ctx.get(), "127.0.0.1", edge.port);
    REQUIRE(client);
    REQUIRE(SSL_version(client->ssl()) == TLS1_2_VERSION);
    REQUIRE(SSL_renegotiate(client->ssl()) == 1);
    CHECK(SSL_do_handshake(client->ssl()) != 1);
    unsigned long reason = ERR_GET_REASON(ERR_peek_error());
    ERR_clear_error();
    CHECK(reason == SSL_R_NO_RENEGOTIATION);
    CHECK_FALSE(client->send("GET /health HTTP/1.1\r\nHost: fetchml\r\n\r\n"));
}
