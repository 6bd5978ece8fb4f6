// HttpsClient and fetchmlctl against a real TLS server: `openssl s_server -www` on 127.0.0.1
// with a self-signed certificate. Checks certificate pinning (match accepted, mismatch refused
// with the documented message), the refusal to connect without a pin, connection errors that
// name host:port, and fetchmlctl's exit code 4 for TLS failures.
// The full client flow against fetchml-httpsd + fetchmld is covered by stack_EndToEnd.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>

#include <string>

#include "net/HttpsClient.hpp"
#include "support/Support.hpp"

using namespace fetchml;
using namespace fetchml::test;

namespace {

/// A self-signed certificate and `openssl s_server -www` serving with it on a free port.
class TlsServer {
public:
    TlsServer() {
        auto made = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir_.sub("key.pem"),
                         "-out", dir_.sub("cert.pem"), "-days", "1", "-subj", "/CN=localhost"});
        INFO(made.err);
        REQUIRE(made.exitCode == 0);
        auto fp = run(
            {"openssl", "x509", "-in", dir_.sub("cert.pem"), "-noout", "-fingerprint", "-sha256"});
        REQUIRE(fp.exitCode == 0);
        fingerprintText_ = fp.out.substr(0, fp.out.find('\n'));
        SpawnOptions options;
        options.argv = {"openssl", "s_server",           "-www", "-accept",          "127.0.0.1:0",
                        "-cert",   dir_.sub("cert.pem"), "-key", dir_.sub("key.pem")};
        options.stdoutPath = dir_.sub("out.txt");
        options.stderrPath = dir_.sub("err.txt");
        process_.emplace(Process::spawn(options));
        // s_server prints "ACCEPT 127.0.0.1:<port>" once it listens.
        bool listening = waitUntil([&] {
            auto out = readFile(dir_.sub("out.txt"));
            auto at = out.find("ACCEPT 127.0.0.1:");
            if (at == std::string::npos || out.find('\n', at) == std::string::npos) {
                return false;
            }
            port_ = static_cast<std::uint16_t>(std::stoi(out.substr(at + 17)));
            return true;
        });
        INFO(readFile(dir_.sub("err.txt")));
        REQUIRE(listening);
    }

    std::uint16_t port() const { return port_; }
    /// As printed by openssl: "sha256 Fingerprint=AB:CD:...".
    const std::string& fingerprintText() const { return fingerprintText_; }

private:
    TempDir dir_;
    std::optional<Process> process_;
    std::uint16_t port_ = 0;
    std::string fingerprintText_;
};

std::unique_ptr<HttpsClient> client(std::uint16_t port, const std::string& pin,
                                    bool insecure = false) {
    HttpsClientOptions options;
    options.host = "127.0.0.1";
    options.port = port;
    options.fingerprint = pin;
    options.insecure = insecure;
    options.timeoutMs = 20000;
    auto made = HttpsClient::create(options);
    REQUIRE(made.ok());
    return std::move(*made);
}

const std::string kOtherPin(64, 'a');

}  // namespace

TEST_CASE("a pinned fingerprint that matches is accepted", "[ctl][https]") {
    TlsServer server;
    auto pin = normaliseFingerprint(server.fingerprintText());
    REQUIRE(pin.ok());
    auto https = client(server.port(), server.fingerprintText());
    auto res = https->request(HttpMethod::Get, "/");
    INFO((res.ok() ? std::string() : res.error().message));
    REQUIRE(res.ok());
    CHECK(res->status == 200);
    // s_server -www describes the session; it must be TLS 1.2 or later.
    bool modern = res->body.find("TLSv1.3") != std::string::npos ||
                  res->body.find("TLSv1.2") != std::string::npos;
    CHECK(modern);
    // The server closes after each answer (HTTP/1.0): the client reconnects by itself.
    auto again = https->request(HttpMethod::Get, "/");
    REQUIRE(again.ok());
    CHECK(again->status == 200);
}

TEST_CASE("a pinned fingerprint that differs is refused with both fingerprints", "[ctl][https]") {
    TlsServer server;
    auto pin = normaliseFingerprint(server.fingerprintText());
    REQUIRE(pin.ok());
    auto https = client(server.port(), kOtherPin);
    auto res = https->request(HttpMethod::Get, "/");
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message.rfind(
              "the certificate of 127.0.0.1:" + std::to_string(server.port()) +
                  " has changed: its fingerprint is " + *pin + " but " + kOtherPin + " is pinned.",
              0) == 0);
}

TEST_CASE("without a pin the client refuses unless insecure", "[ctl][https]") {
    HttpsClientOptions options;
    options.host = "127.0.0.1";
    options.port = 1;
    auto refused = HttpsClient::create(options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("no server certificate fingerprint is pinned") !=
          std::string::npos);

    TlsServer server;
    auto https = client(server.port(), "", true);
    auto res = https->request(HttpMethod::Get, "/");
    REQUIRE(res.ok());
    CHECK(res->status == 200);
}

TEST_CASE("connection failures name host and port", "[ctl][https]") {
    // A port nobody listens on any more: that of a server that has stopped.
    std::uint16_t port = 0;
    {
        TlsServer stopped;
        port = stopped.port();
    }
    auto https = client(port, kOtherPin);
    auto res = https->request(HttpMethod::Get, "/");
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().message.find("cannot connect to 127.0.0.1:" + std::to_string(port)) == 0);
}

TEST_CASE("fetchmlctl exits 4 with one line on a fingerprint mismatch", "[ctl][https]") {
    TlsServer server;
    auto pin = normaliseFingerprint(server.fingerprintText());
    REQUIRE(pin.ok());
    std::string url = "https://127.0.0.1:" + std::to_string(server.port());
    auto r = run({binaryPath("fetchmlctl"), "--server", url, "--fingerprint", kOtherPin, "status"},
                 {"FETCHML_API_KEY=fml_000000000000_x", "XDG_CONFIG_HOME=/nonexistent"});
    CHECK(r.exitCode == 4);
    CHECK(r.err.rfind("fetchmlctl: the certificate of 127.0.0.1:" + std::to_string(server.port()) +
                          " has changed: its fingerprint is " + *pin + " but " + kOtherPin +
                          " is pinned.",
                      0) == 0);
    CHECK(r.err.find("log in again") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());

    auto noPin = run({binaryPath("fetchmlctl"), "--server", url, "status"},
                     {"FETCHML_FINGERPRINT=", "XDG_CONFIG_HOME=/nonexistent"});
    CHECK(noPin.exitCode == 1);
    CHECK(noPin.err.find("no certificate fingerprint pinned") != std::string::npos);
}

TEST_CASE("fetchmlctl login: trust on first use, pinned, changed certificates refused",
          "[ctl][https][login]") {
    TlsServer first;
    TlsServer second;  // another certificate, standing in for a replaced one
    auto firstPin = normaliseFingerprint(first.fingerprintText());
    auto secondPin = normaliseFingerprint(second.fingerprintText());
    REQUIRE(firstPin.ok());
    REQUIRE(secondPin.ok());
    TempDir home;
    std::string config = home.sub("fetchml/client.yaml");
    std::vector<std::string> env{"XDG_CONFIG_HOME=" + home.path(),
                                 "FETCHML_API_KEY=", "FETCHML_SERVER=", "FETCHML_FINGERPRINT="};
    std::string url1 = "https://127.0.0.1:" + std::to_string(first.port());
    std::string url2 = "https://127.0.0.1:" + std::to_string(second.port());
    auto login = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {binaryPath("fetchmlctl"), "login"});
        return run(args, env);
    };

    // The expected fingerprint given and wrong: refused, nothing saved.
    auto wrong = login({url1, "--fingerprint", kOtherPin});
    CHECK(wrong.exitCode == 4);
    CHECK(wrong.err.find("has fingerprint " + *firstPin + ", not the expected " + kOtherPin) !=
          std::string::npos);
    CHECK(::access(config.c_str(), F_OK) != 0);
    // No terminal to ask on (setsid: no controlling terminal, even when the tests run in one):
    // it says what to pass.
    auto noTty = run({"setsid", "-w", binaryPath("fetchmlctl"), "login", url1}, env);
    CHECK(noTty.exitCode == 1);
    CHECK(noTty.err.find("pass --fingerprint " + *firstPin) != std::string::npos);
    // Trusted: shown, then pinned in a 0600 file.
    auto trusted = login({url1, "--yes"});
    INFO(trusted.err);
    REQUIRE(trusted.exitCode == 0);
    std::string shown = *firstPin;  // shown as the server logs it: "AB:CD:..."
    std::transform(shown.begin(), shown.end(), shown.begin(), ::toupper);
    CHECK(trusted.err.find(shown.substr(0, 2) + ":" + shown.substr(2, 2) + ":") !=
          std::string::npos);
    struct stat st {};
    REQUIRE(::stat(config.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string saved = readFile(config);
    CHECK(saved.find("server: \"" + url1 + "\"") != std::string::npos);
    CHECK(saved.find("fingerprint: \"" + *firstPin + "\"") != std::string::npos);
    // Logging in again to the same certificate is fine (nothing to ask).
    CHECK(run({"setsid", "-w", binaryPath("fetchmlctl"), "login", url1}, env).exitCode == 0);

    // The server at url2 now presents another certificate than the one pinned for it.
    writeFile(config, "server: \"" + url2 + "\"\nfingerprint: \"" + *firstPin + "\"\n", 0600);
    auto changed = login({url2, "--yes"});
    CHECK(changed.exitCode == 4);
    CHECK(changed.err.find("has changed: its fingerprint is " + *secondPin + " but " + *firstPin +
                           " is pinned") != std::string::npos);
    CHECK(readFile(config).find(*firstPin) != std::string::npos);  // the pin is kept
    auto status = run({binaryPath("fetchmlctl"), "status"},
                      {"XDG_CONFIG_HOME=" + home.path(), "FETCHML_API_KEY=fml_000000000000_x"});
    INFO(status.err);
    CHECK(status.exitCode == 4);
    CHECK(status.err.find("has changed") != std::string::npos);
    // After checking the new fingerprint, the admin pins it explicitly.
    CHECK(login({url2, "--fingerprint", *secondPin}).exitCode == 0);
    CHECK(readFile(config).find(*secondPin) != std::string::npos);
}
