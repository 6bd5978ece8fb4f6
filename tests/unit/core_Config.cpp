#include <stdlib.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/Config.hpp"
#include "core/ConfigKeys.hpp"
#include "core/DaemonCli.hpp"
#include "core/Version.hpp"

using namespace fetchml;
namespace fs = std::filesystem;

namespace {

/// A temporary directory removed at the end of the test.
class ConfigTempDir {
public:
    ConfigTempDir() {
        std::string tmpl = (fs::temp_directory_path() / "fetchml-config-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~ConfigTempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        fs::path p = path_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string path(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

/// Sets an environment variable for the scope of a test.
class EnvVar {
public:
    EnvVar(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~EnvVar() { ::unsetenv(name_); }
    EnvVar(const EnvVar&) = delete;
    EnvVar& operator=(const EnvVar&) = delete;

private:
    const char* name_;
};

Result<Settings> loadText(const ConfigTempDir& dir, const std::string& text,
                          std::vector<std::string> overrides = {}) {
    LoadOptions o;
    o.path = dir.write("fetchml.yaml", text);
    o.mustExist = true;
    o.readEnvironment = false;
    o.overrides = std::move(overrides);
    return loadSettings(o);
}

std::string errorOf(const ConfigTempDir& dir, const std::string& text) {
    auto r = loadText(dir, text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().message;
}

}  // namespace

TEST_CASE("Config: a missing optional file gives the built-in defaults", "[core][config]") {
    ConfigTempDir dir;
    LoadOptions o;
    o.path = dir.path("absent.yaml");
    o.readEnvironment = false;
    auto r = loadSettings(o);
    REQUIRE(r.ok());
    CHECK(r->sourceFile.empty());
    CHECK(r->https.port == 9101);
    CHECK(r->worker.slots == 2);
    CHECK(r->log.level == "info");
    CHECK(r->scheduler.database.empty());
    CHECK(r->https.maxBodyBytes == (1ull << 30));

    o.mustExist = true;
    auto missing = loadSettings(o);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == ErrorCode::NotFound);
}

TEST_CASE("Config: values from the file", "[core][config]") {
    ConfigTempDir dir;
    auto r = loadText(dir,
                      "paths:\n  state_dir: /srv/fml\n"
                      "https:\n  port: 0\n  address: 127.0.0.1\n  max_body_bytes: 5000000000\n"
                      "worker:\n  allowed_uids: [1000, 1001]\n  runtime: crun\n"
                      "log:\n  level: debug\n"
                      "queue:\n");
    REQUIRE(r.ok());
    CHECK(r->sourceFile == dir.path("fetchml.yaml"));
    CHECK(r->paths.stateDir == "/srv/fml");
    CHECK(r->https.port == 0);
    CHECK(r->https.address == "127.0.0.1");
    CHECK(r->https.maxBodyBytes == 5000000000ull);
    CHECK(r->worker.allowedUids == std::vector<std::uint32_t>{1000, 1001});
    CHECK(r->worker.runtime == "crun");
    CHECK(r->log.level == "debug");
    CHECK(r->queue.backend == "sqlite");
}

TEST_CASE("Config: an empty file is all defaults", "[core][config]") {
    ConfigTempDir dir;
    auto r = loadText(dir, "# nothing here\n");
    REQUIRE(r.ok());
    CHECK(r->https.port == 9101);
}

TEST_CASE("Config: each error names file, line, column, key and value", "[core][config]") {
    ConfigTempDir dir;
    const std::string f = dir.path("fetchml.yaml");

    SECTION("unknown section") {
        CHECK(errorOf(dir, "log:\n  level: info\nhttp:\n  port: 1\n") ==
              f + ":3:1: http: expected a section (paths, store, log, scheduler, auth, queue, "
                  "worker, https), got 'http'");
    }
    SECTION("unknown key") {
        auto msg = errorOf(dir, "https:\n  port: 1\n  prot: 2\n");
        CHECK(msg.rfind(f + ":3:3: https.prot: expected a key of https (address, port,", 0) == 0);
        CHECK(msg.find("got 'prot'") != std::string::npos);
    }
    SECTION("mapping where a scalar is expected") {
        CHECK(errorOf(dir, "https:\n  port:\n    a: 1\n") ==
              f + ":3:5: https.port: expected a scalar, got a mapping");
    }
    SECTION("section that is not a mapping") {
        CHECK(errorOf(dir, "worker: 3\n") == f + ":1:9: worker: expected a mapping, got '3'");
    }
    SECTION("not an integer") {
        CHECK(errorOf(dir, "https:\n  port: abc\n") ==
              f + ":2:9: https.port: expected an integer 0..65535, got 'abc'");
    }
    SECTION("negative port") {
        CHECK(errorOf(dir, "https:\n  port: -1\n") ==
              f + ":2:9: https.port: expected an integer 0..65535, got '-1'");
    }
    SECTION("port out of range") {
        CHECK(errorOf(dir, "https:\n  port: 65536\n") ==
              f + ":2:9: https.port: expected an integer 0..65535, got '65536'");
    }
    SECTION("uint32 out of range") {
        CHECK(errorOf(dir, "worker:\n  slots: 4294967296\n") ==
              f + ":2:10: worker.slots: expected an integer 0..4294967295, got '4294967296'");
    }
    SECTION("below a key's minimum (fetchmld would refuse it at start)") {
        CHECK(errorOf(dir, "store:\n  gc_grace_s: 0\n") ==
              f + ":2:15: store.gc_grace_s: expected an integer 1..4294967295, got '0'");
    }
    SECTION("empty integer") {
        CHECK(errorOf(dir, "worker:\n  slots:\n") ==
              f + ":2:9: worker.slots: expected an integer 0..4294967295, got ''");
    }
    SECTION("bad enumerated values") {
        CHECK(errorOf(dir, "log:\n  level: loud\n") ==
              f + ":2:10: log.level: expected one of trace|debug|info|warning|error|critical, "
                  "got 'loud'");
        CHECK(errorOf(dir, "log:\n  target: syslog\n") ==
              f + ":2:11: log.target: expected one of auto|console|journal, got 'syslog'");
        CHECK(errorOf(dir, "scheduler:\n  bus: user\n") ==
              f + ":2:8: scheduler.bus: expected one of system|session, got 'user'");
        CHECK(errorOf(dir, "queue:\n  backend: kafka\n") ==
              f + ":2:12: queue.backend: expected one of sqlite|redis, got 'kafka'");
    }
    SECTION("bad list item points at the item") {
        CHECK(errorOf(dir, "worker:\n  allowed_uids:\n    - 1000\n    - bob\n") ==
              f + ":4:7: worker.allowed_uids: expected a list of integers 0..4294967295, "
                  "got 'bob'");
    }
    SECTION("scalar where a list is expected") {
        CHECK(errorOf(dir, "worker:\n  allowed_uids: 1000\n") ==
              f + ":2:17: worker.allowed_uids: expected a sequence, got '1000'");
    }
    SECTION("duplicate key") {
        CHECK(errorOf(dir, "https:\n  port: 1\n  port: 2\n") ==
              f + ":3:3: https.port: expected each key once, got 'port'");
    }
    SECTION("top level is not a mapping") {
        CHECK(errorOf(dir, "- a\n- b\n") ==
              f + ":1:1: top level: expected a mapping of sections, got a sequence");
    }
    SECTION("YAML syntax error") {
        CHECK(errorOf(dir, "https:\n  port: [1, 2\n") ==
              f + ":3:1: did not find expected ',' or ']' (while parsing a flow sequence)");
        CHECK(errorOf(dir, "https:\n port: 1\n  address: x\n") ==
              f + ":3:10: mapping values are not allowed in this context");
    }
}

TEST_CASE("Config: environment beats the file, --set beats the environment", "[core][config]") {
    ConfigTempDir dir;
    LoadOptions o;
    o.path = dir.write("fetchml.yaml", "https:\n  port: 1000\nworker:\n  cancel_grace_s: 5\n");
    o.mustExist = true;
    {
        auto r = loadSettings(o);
        REQUIRE(r.ok());
        CHECK(r->https.port == 1000);
    }
    EnvVar port("FETCHML_HTTPS_PORT", "2000");
    EnvVar grace("FETCHML_WORKER_CANCEL_GRACE_S", "7");
    EnvVar uids("FETCHML_WORKER_ALLOWED_UIDS", "1000, 1001,1002");
    {
        auto r = loadSettings(o);
        REQUIRE(r.ok());
        CHECK(r->https.port == 2000);
        CHECK(r->worker.cancelGraceS == 7);
        CHECK(r->worker.allowedUids == std::vector<std::uint32_t>{1000, 1001, 1002});
    }
    o.overrides = {"https.port=3000", "worker.allowed_uids=", "log.level=trace"};
    {
        auto r = loadSettings(o);
        REQUIRE(r.ok());
        CHECK(r->https.port == 3000);
        CHECK(r->worker.allowedUids.empty());
        CHECK(r->log.level == "trace");
    }
    o.readEnvironment = false;
    o.overrides.clear();
    {
        auto r = loadSettings(o);
        REQUIRE(r.ok());
        CHECK(r->https.port == 1000);
    }
}

TEST_CASE("Config: environment and --set errors", "[core][config]") {
    ConfigTempDir dir;
    LoadOptions o;
    o.path = dir.path("absent.yaml");
    {
        EnvVar port("FETCHML_HTTPS_PORT", "http");
        auto r = loadSettings(o);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message ==
              "environment FETCHML_HTTPS_PORT: expected an integer 0..65535, got 'http'");
    }
    o.readEnvironment = false;
    o.overrides = {"queue.backend=kafka"};
    auto bad = loadSettings(o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "--set queue.backend: expected one of sqlite|redis, got 'kafka'");
    o.overrides = {"https.nope=1"};
    auto unknown = loadSettings(o);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message == "--set https.nope: expected a known key, got 'https.nope'");
    o.overrides = {"port=1"};
    auto malformed = loadSettings(o);
    REQUIRE_FALSE(malformed.ok());
    CHECK(malformed.error().message == "--set: expected section.key=value, got 'port=1'");
    o.overrides = {"worker.allowed_uids=1,x"};
    auto list = loadSettings(o);
    REQUIRE_FALSE(list.ok());
    CHECK(list.error().message ==
          "--set worker.allowed_uids: expected a list of integers 0..4294967295, got 'x'");
}

TEST_CASE("Config: drop-ins are read in name order, later wins", "[core][config]") {
    ConfigTempDir dir;
    LoadOptions o;
    o.path = dir.write("fetchml.yaml", "https:\n  port: 1\n  threads: 9\n");
    o.readEnvironment = false;
    dir.write("fetchml.yaml.d/20-b.yaml", "https:\n  port: 3\n");
    dir.write("fetchml.yaml.d/10-a.yaml", "https:\n  port: 2\nlog:\n  level: error\n");
    dir.write("fetchml.yaml.d/30-c.yaml.disabled", "https:\n  port: 99\n");
    auto r = loadSettings(o);
    REQUIRE(r.ok());
    CHECK(r->https.port == 3);
    CHECK(r->https.threads == 9);
    CHECK(r->log.level == "error");

    dir.write("fetchml.yaml.d/40-bad.yaml", "\nhttps:\n  threads: many\n");
    auto bad = loadSettings(o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == dir.path("fetchml.yaml.d/40-bad.yaml") +
                                     ":3:12: https.threads: expected an integer 0..4294967295, "
                                     "got 'many'");
}

TEST_CASE("Config: resolvePaths fills empty paths from the state and runtime dirs",
          "[core][config]") {
    Settings s;
    s.paths.stateDir = "/srv/state";
    s.paths.runtimeDir = "/tmp/run";
    s.worker.rootfsDir = "/opt/rootfs";
    Settings r = resolvePaths(s);
    CHECK(r.scheduler.database == "/srv/state/fetchml.db");
    CHECK(r.scheduler.workerSocket == "/tmp/run/worker.sock");
    CHECK(r.worker.socket == "/tmp/run/worker.sock");
    CHECK(r.worker.rootfsDir == "/opt/rootfs");
    CHECK(r.https.tlsDir == "/srv/state/tls");
    CHECK(r.https.certFile.empty());
}

TEST_CASE("Config: key names and environment names", "[core][config]") {
    auto names = configKeyNames();
    CHECK(std::find(names.begin(), names.end(), "worker.cancel_grace_s") != names.end());
    CHECK(configEnvName("worker.cancel_grace_s") == "FETCHML_WORKER_CANCEL_GRACE_S");
    CHECK(configEnvName("https.port") == "FETCHML_HTTPS_PORT");
}

TEST_CASE("DaemonCli: flags become LoadOptions", "[core][config]") {
    ConfigTempDir dir;
    std::string file = dir.write("f.yaml", "https:\n  port: 1\n");
    CLI::App app{"test"};
    DaemonCli cli(app, "fetchmld");
    std::vector<std::string> args = {"fetchmld", "--config",       file, "--set", "https.port=2",
                                     "--set",    "log.level=debug"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    app.parse(static_cast<int>(argv.size()), argv.data());
    cli.addOverride("https.threads=3");
    LoadOptions o = cli.loadOptions();
    CHECK(o.path == file);
    CHECK(o.mustExist);
    CHECK(o.overrides ==
          std::vector<std::string>{"https.port=2", "log.level=debug", "https.threads=3"});
    std::ostringstream out;
    std::ostringstream err;
    CHECK_FALSE(cli.handleInfoFlags(out, err).has_value());
}

TEST_CASE("DaemonCli: --version and --check-config", "[core][config]") {
    ConfigTempDir dir;
    auto run = [](std::vector<std::string> args, std::string& out, std::string& err) {
        CLI::App app{"test"};
        DaemonCli cli(app, "fetchml-httpsd");
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        app.parse(static_cast<int>(argv.size()), argv.data());
        std::ostringstream o;
        std::ostringstream e;
        auto code = cli.handleInfoFlags(o, e);
        out = o.str();
        err = e.str();
        return code;
    };
    std::string out;
    std::string err;
    CHECK(run({"x", "--version"}, out, err) == 0);
    CHECK(out == std::string("fetchml-httpsd ") + projectVersion() + "\n");
    CHECK(std::string(projectVersion()).find('.') != std::string::npos);

    std::string good = dir.write("good.yaml", "https:\n  port: 8443\n");
    CHECK(run({"x", "--config", good, "--check-config"}, out, err) == 0);
    CHECK(out == "configuration OK: " + good + "\n");

    std::string bad = dir.write("bad.yaml", "https:\n  port: 8443x\n");
    CHECK(run({"x", "--config", bad, "--check-config"}, out, err) == 1);
    CHECK(err == bad + ":2:9: https.port: expected an integer 0..65535, got '8443x'\n");

    CHECK(run({"x", "--config", dir.path("none.yaml"), "--check-config"}, out, err) == 1);
    CHECK(run({"x", "--config", good, "--check-config", "--set", "https.port=x"}, out, err) == 1);
    CHECK(err == "--set https.port: expected an integer 0..65535, got 'x'\n");
}

TEST_CASE("Config: lists of strings (https.allowlist)", "[core][config]") {
    ConfigTempDir dir;
    {
        auto r = loadText(dir, "log:\n  level: info\n");
        REQUIRE(r.ok());
        CHECK(r->https.allowlist == std::vector<std::string>{"127.0.0.0/8", "::1/128", "10.0.0.0/8",
                                                             "172.16.0.0/12", "192.168.0.0/16",
                                                             "fc00::/7"});
        CHECK(r->https.rateLimitPerMinute == 30);
        CHECK(r->https.authFailuresPerMinute == 5);
    }
    {
        auto r = loadText(dir,
                          "https:\n  allowlist:\n    - 192.0.2.0/24\n    - \"2001:db8::/32\"\n"
                          "  rate_limit_per_minute: 5\n");
        REQUIRE(r.ok());
        CHECK(r->https.allowlist == std::vector<std::string>{"192.0.2.0/24", "2001:db8::/32"});
        CHECK(r->https.rateLimitPerMinute == 5);
    }
    {
        auto r = loadText(dir, "https:\n  allowlist: []\n");
        REQUIRE(r.ok());
        CHECK(r->https.allowlist.empty());
    }
    const std::string f = dir.path("fetchml.yaml");
    CHECK(errorOf(dir, "https:\n  allowlist: 10.0.0.0/8\n") ==
          f + ":2:14: https.allowlist: expected a sequence, got '10.0.0.0/8'");
    CHECK(errorOf(dir, "https:\n  allowlist:\n    - [a]\n") ==
          f + ":3:7: https.allowlist: expected a scalar list item, got a sequence");

    LoadOptions o;
    o.path = dir.path("absent.yaml");
    o.readEnvironment = true;
    EnvVar list("FETCHML_HTTPS_ALLOWLIST", "10.0.0.0/8, ::1/128");
    o.overrides = {"https.auth_failures_per_minute=2"};
    auto r = loadSettings(o);
    REQUIRE(r.ok());
    CHECK(r->https.allowlist == std::vector<std::string>{"10.0.0.0/8", "::1/128"});
    CHECK(r->https.authFailuresPerMinute == 2);
    o.overrides = {"https.allowlist=10.0.0.0/8,,::1"};
    auto bad = loadSettings(o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message ==
          "--set https.allowlist: expected a list of non-empty strings, got ''");
}
