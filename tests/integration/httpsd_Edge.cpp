// fetchml-httpsd, the TLS edge, for real: a private dbus-daemon with the project's policy, the
// real fetchmld behind it, and HTTPS clients (curl, openssl s_client) on loopback. The edge
// binds port 0 and the test reads the port from <runtime_dir>/https.port.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "dbus/Scheduler1Proxy.h"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using nlohmann::json;

namespace {

/// `openssl s_client` with one protocol version; true when the handshake completed.
bool handshake(const Stack& stack, const std::string& versionFlag, std::string* output) {
    auto r = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(stack.port),
                  versionFlag, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", stack.certFile()},
                 {}, std::nullopt, std::nullopt, "Q\n");
    *output = r.out + r.err;
    return r.exitCode == 0 && r.out.find("Cipher is (NONE)") == std::string::npos &&
           r.out.find("New, ") != std::string::npos;
}

std::string opensslFingerprint(const std::string& cert) {
    auto r = run({"openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"});
    std::string out = r.out;
    auto eq = out.find('=');
    return eq == std::string::npos ? "" : out.substr(eq + 1, out.find('\n') - eq - 1);
}

}  // namespace

TEST_CASE("the edge alone: TLS versions, certificate, health and authentication",
          "[httpsd][edge]") {
    Stack stack(false);

    auto health = stack.request("GET", "/health", "");
    CHECK(health.status == 200);
    CHECK(health.json() == json{{"status", "ok"}});

    // Every route but /health needs a key; without one the edge answers 401 itself.
    auto noKey = stack.request("GET", "/v1/jobs", "");
    CHECK(noKey.status == 401);
    CHECK(noKey.json()["error"]["code"] == "Unauthenticated");
    CHECK(stack.request("POST", "/v1/users", "", R"({"name":"x"})").status == 401);
    auto wrongMethod = stack.request("DELETE", "/v1/jobs", "k");
    CHECK(wrongMethod.status == 405);
    CHECK(wrongMethod.json()["error"]["code"] == "InvalidArgument");
    auto unknown = stack.request("GET", "/nowhere", "k");
    CHECK(unknown.status == 404);
    CHECK(unknown.json()["error"]["code"] == "NotFound");
    // No scheduler on the bus: the call fails as Busy (503), and the edge keeps serving.
    auto busy = stack.request("GET", "/v1/jobs", "fml_000000000000_x");
    CHECK(busy.status == 503);
    CHECK(busy.json()["error"]["code"] == "Busy");

    // TLS 1.0 and 1.1 are refused even by a client that allows them; 1.2 and 1.3 work.
    std::string out;
    CHECK_FALSE(handshake(stack, "-tls1_1", &out));
    INFO(out);
    CHECK_FALSE(handshake(stack, "-tls1", &out));
    CHECK(handshake(stack, "-tls1_2", &out));
    CHECK(out.find("New, TLSv1.2") != std::string::npos);
    CHECK(handshake(stack, "-tls1_3", &out));
    CHECK(out.find("New, TLSv1.3") != std::string::npos);

    // The certificate's fingerprint is logged and written, in openssl's own form.
    std::string fingerprint = opensslFingerprint(stack.certFile());
    REQUIRE(fingerprint.size() == 95);
    CHECK(readFile(stack.tmp.sub("edge-state") + "/tls/fingerprint") == fingerprint + "\n");
    CHECK(readFile(stack.edgeLog()).find(fingerprint) != std::string::npos);
    struct stat st {};
    REQUIRE(::stat((stack.tmp.sub("edge-state") + "/tls/key.pem").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // The access log has one line per request, never the key.
    std::string log = readFile(stack.edgeLog());
    CHECK(log.find("\"GET /health\" 200") != std::string::npos);
    CHECK(log.find("\"GET /v1/jobs\" 401") != std::string::npos);
    CHECK(log.find("fml_000000000000_x") == std::string::npos);

    // SIGTERM: a clean stop, the port file removed; a restart keeps the certificate.
    CHECK(stack.stopEdge() == 0);
    CHECK(::access(stack.portFile().c_str(), F_OK) != 0);
    stack.startEdge();
    CHECK(opensslFingerprint(stack.certFile()) == fingerprint);
    CHECK(stack.request("GET", "/health", "").status == 200);

    // SIGHUP reloads; a broken file is refused with its line and column and the edge keeps
    // serving with the configuration it has.
    ::kill(stack.edgePid(), SIGHUP);
    REQUIRE(waitUntil(
        [&] { return readFile(stack.edgeLog()).find("reloaded ") != std::string::npos; }));
    writeFile(stack.tmp.sub("edge.yaml"), readFile(stack.tmp.sub("edge.yaml")) + "bogus: 1\n");
    ::kill(stack.edgePid(), SIGHUP);
    REQUIRE(waitUntil(
        [&] { return readFile(stack.edgeLog()).find("reload refused") != std::string::npos; }));
    CHECK(readFile(stack.edgeLog()).find("edge.yaml:") != std::string::npos);
    CHECK(stack.request("GET", "/health", "").status == 200);
}

TEST_CASE("through the edge to fetchmld: users, uploads, commits, jobs", "[httpsd][edge]") {
    Stack stack(true, "  max_body_bytes: 1048576\n");

    // An admin (this test's Unix user) creates a researcher on the bus.
    auto added = stack.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                        {"role", sdbus::Variant(std::string("researcher"))}});
    std::string key = added.at("api_key").get<std::string>();

    // Upload an experiment: which blobs are missing, the pack, then the manifest.
    std::string dir = stack.tmp.sub("exp");
    mkdir(dir.c_str(), 0755);
    writeFile(dir + "/train.sh", "echo hello\n", 0755);
    writeFile(dir + "/README", "an experiment\n");
    auto manifest = fetchml::Manifest::scan(dir);
    REQUIRE(manifest.ok());
    json hashes = manifest->blobHashes();
    auto missing = stack.request("POST", "/v1/blobs/missing", key, json{{"hashes", hashes}}.dump());
    REQUIRE(missing.status == 200);
    CHECK(missing.json()["missing"].size() == 2);

    std::vector<fetchml::PackItem> items;
    for (const auto& entry : manifest->entries()) {
        items.push_back({entry.sha256, dir + "/" + entry.path});
    }
    std::string packPath = stack.tmp.sub("pack");
    int fd = ::open(packPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(fetchml::PackWriter(items).writeTo(fd).ok());
    ::close(fd);
    auto stored = stack.request("POST", "/v1/blobs", key, "", packPath);
    INFO(stored.body);
    REQUIRE(stored.status == 200);
    CHECK(stored.json()["stored"] == 2);
    CHECK(stored.json()["present"] == 0);
    missing = stack.request("POST", "/v1/blobs/missing", key, json{{"hashes", hashes}}.dump());
    CHECK(missing.json()["missing"].empty());

    // A blob comes back byte for byte.
    std::string sha;
    for (const auto& entry : manifest->entries()) {
        if (entry.path == "train.sh") {
            sha = entry.sha256;
        }
    }
    std::string downloaded = stack.tmp.sub("download");
    CHECK(stack.request("GET", "/v1/blobs/" + sha, key, "", "", downloaded).status == 200);
    CHECK(readFile(downloaded) == "echo hello\n");
    CHECK(stack.request("GET", "/v1/blobs/" + std::string(64, '0'), key).status == 404);

    auto commit =
        stack.request("POST", "/v1/commits", key, json{{"manifest", manifest->text()}}.dump());
    REQUIRE(commit.status == 201);
    CHECK(commit.json()["commit"] == manifest->commitId());
    auto text = stack.request("GET", "/v1/commits/" + manifest->commitId(), key);
    CHECK(text.json()["manifest"] == manifest->text());

    // Submit, list, get, cancel.
    json submit{{"commit", manifest->commitId()}, {"command", {"sh", "train.sh"}},
                {"image", "rootfs:busybox"},      {"priority", 3},
                {"params", {{"lr", "0.1"}}},      {"name", "first"}};
    auto job = stack.request("POST", "/v1/jobs", key, submit.dump());
    INFO(job.body);
    REQUIRE(job.status == 201);
    std::string id = job.json()["id"];
    CHECK(job.json()["state"] == "queued");
    CHECK(job.json()["user"] == "alice");
    auto list = stack.request("GET", "/v1/jobs?state=queued&limit=10", key);
    REQUIRE(list.status == 200);
    REQUIRE(list.json()["jobs"].size() == 1);
    CHECK(list.json()["jobs"][0]["id"] == id);
    auto got = stack.request("GET", "/v1/jobs/" + id, key);
    CHECK(got.status == 200);
    CHECK(got.json()["params"]["lr"] == "0.1");
    CHECK(stack.request("GET", "/v1/jobs/" + id + "/results", key).status == 404);
    auto cancelled = stack.request("POST", "/v1/jobs/" + id + "/cancel", key);
    CHECK(cancelled.status == 200);
    CHECK(cancelled.json()["state"] == "cancelled");
    CHECK(stack.request("GET", "/v1/jobs?limit=x", key).status == 400);

    // Bad requests get clear errors; the server keeps serving.
    auto badJson = stack.request("POST", "/v1/jobs", key, "{\"commit\": ");
    CHECK(badJson.status == 400);
    CHECK(badJson.json()["error"]["code"] == "InvalidArgument");
    CHECK(badJson.json()["error"]["message"] == "the request body is not valid JSON");
    CHECK(stack.request("POST", "/v1/jobs", key, "[1,2]").status == 400);
    auto badKey =
        stack.request("GET", "/v1/jobs", "fml_0123456789ab_notarealkeynotarealkeynotarealkeyxx");
    CHECK(badKey.status == 401);
    CHECK(badKey.json()["error"]["code"] == "Unauthenticated");
    // A researcher may not create users: fetchmld decides, the edge passes it on.
    auto denied = stack.request("POST", "/v1/users", key, R"({"name":"eve","role":"admin"})");
    CHECK(denied.status == 403);
    // An upload over https.max_body_bytes is refused with 413.
    std::string big = stack.tmp.sub("big");
    writeFile(big, std::string(2 << 20, 'x'));
    auto tooBig = stack.request("POST", "/v1/blobs", key, "", big);
    CHECK(tooBig.status == 413);
    // The same without a Content-Length (chunked): refused while it streams in.
    auto tooBigChunked =
        stack.request("POST", "/v1/blobs", key, "", big, "", "Transfer-Encoding: chunked");
    CHECK(tooBigChunked.status == 413);
    // A chunked pack within the cap is stored as well (already present this time).
    auto again =
        stack.request("POST", "/v1/blobs", key, "", packPath, "", "Transfer-Encoding: chunked");
    CHECK(again.status == 200);
    CHECK(again.json()["present"] == 2);
    CHECK(stack.request("GET", "/health", "").status == 200);
    CHECK(stack.request("GET", "/v1/jobs/" + id, key).status == 200);

    std::string log = readFile(stack.edgeLog());
    CHECK(log.find(key) == std::string::npos);
    CHECK(log.find("\"POST /v1/blobs\" 200") != std::string::npos);
}

TEST_CASE("the edge's rate limits: 429 with Retry-After, /health exempt", "[httpsd][edge]") {
    Stack stack(false, "  rate_limit_per_minute: 5\n  auth_failures_per_minute: 2\n");
    // No scheduler on the bus: each keyed request is answered 503, and each counts.
    const std::string key = "fml_0123456789ab_notarealsecretnotarealsecret";
    for (int i = 0; i < 5; ++i) {
        CHECK(stack.request("GET", "/v1/jobs", key).status == 503);
    }
    std::string headers = stack.tmp.sub("headers");
    auto r =
        run({"curl", "-sS", "--cacert", stack.certFile(), "-D", headers, "-o",
             stack.tmp.sub("body"), "-w", "%{http_code}", "-K", "-", stack.url("/v1/jobs")},
            {}, std::nullopt, std::nullopt, "header = \"Authorization: Bearer " + key + "\"\n");
    CHECK(r.out == "429");
    auto body = json::parse(readFile(stack.tmp.sub("body")), nullptr, false);
    CHECK(body["error"]["code"] == "Busy");
    std::string head = readFile(headers);
    INFO(head);
    auto at = head.find("retry-after: ");
    if (at == std::string::npos) {
        at = head.find("Retry-After: ");
    }
    REQUIRE(at != std::string::npos);
    int seconds = std::atoi(head.c_str() + at + 13);
    CHECK(seconds >= 1);
    CHECK(seconds <= 12);
    // /health is not limited.
    for (int i = 0; i < 3; ++i) {
        CHECK(stack.request("GET", "/health", "").status == 200);
    }
    CHECK(readFile(stack.edgeLog()).find("notarealsecret") == std::string::npos);
    CHECK(readFile(stack.edgeLog()).find("\"GET /v1/jobs\" 429") != std::string::npos);
}

TEST_CASE("the edge's authentication-failure budget", "[httpsd][edge]") {
    Stack stack(false, "  auth_failures_per_minute: 2\n");
    CHECK(stack.request("GET", "/v1/jobs", "").status == 401);
    CHECK(stack.request("GET", "/v1/jobs", "").status == 401);
    // The address used its budget: even a request with a key is refused now.
    auto refused = stack.request("GET", "/v1/jobs", "fml_0123456789ab_x");
    CHECK(refused.status == 429);
    CHECK(refused.json()["error"]["code"] == "Busy");
    CHECK(stack.request("GET", "/health", "").status == 200);
}

TEST_CASE("the edge's IP allowlist refuses other peers before TLS", "[httpsd][edge]") {
    Stack stack(false, "  allowlist: [192.0.2.0/24]\n");
    auto r = run({"curl", "-sS", "--cacert", stack.certFile(), "-o", "/dev/null", "-w",
                  "%{http_code}", stack.url("/health")});
    CHECK(r.exitCode != 0);
    CHECK(r.out == "000");
    std::string out;
    CHECK_FALSE(handshake(stack, "-tls1_3", &out));
    REQUIRE(waitUntil([&] {
        return readFile(stack.edgeLog()).find("refused 127.0.0.1: not in https.allowlist") !=
               std::string::npos;
    }));
    // A broken list stops the edge at start-up, naming the entry.
    CHECK(stack.stopEdge() == 0);
    writeFile(stack.tmp.sub("broken.yaml"),
              "log:\n  target: console\nhttps:\n  allowlist: [10.0.0.1/8]\n");
    auto broken = run({binaryPath("fetchml-httpsd"), "--config", stack.tmp.sub("broken.yaml")});
    CHECK(broken.exitCode != 0);
    CHECK((broken.out + broken.err).find("https.allowlist entry '10.0.0.1/8'") !=
          std::string::npos);
}
