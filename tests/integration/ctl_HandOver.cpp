// fetchmlctl and fetchmlctl-full (decisions.md "fetchmlctl and fetchmlctl-full"): the real
// binaries of the build tree. fetchmlctl loads neither OpenSSL nor SQLite; what needs them
// (login, backup, restore, an HTTPS server, --help listing every command) is run by
// fetchmlctl-full in its place, with the same arguments and environment; and without
// fetchmlctl-full it says so and what it looked for.

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "support/Support.hpp"

using namespace fetchml::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("fetchmlctl loads neither OpenSSL nor SQLite", "[ctl][handover]") {
    auto libs = run({"ldd", binaryPath("fetchmlctl")});
    REQUIRE(libs.exitCode == 0);
    CHECK(contains(libs.out, "libsdbus-c++"));  // the check sees the libraries at all
    CHECK_FALSE(contains(libs.out, "libssl"));
    CHECK_FALSE(contains(libs.out, "libcrypto"));
    CHECK_FALSE(contains(libs.out, "libsqlite3"));

    auto full = run({"ldd", binaryPath("fetchmlctl-full")});
    REQUIRE(full.exitCode == 0);
    CHECK(contains(full.out, "libssl"));
    CHECK(contains(full.out, "libsqlite3"));
}

TEST_CASE("fetchmlctl hands what it lacks to fetchmlctl-full", "[ctl][handover]") {
    TempDir tmp;
    const std::string ctl = binaryPath("fetchmlctl");
    const std::vector<std::string> env = {"XDG_CONFIG_HOME=" + tmp.sub("config"), "FETCHML_SERVER=",
                                          "FETCHML_FINGERPRINT=", "FETCHML_API_KEY="};

    SECTION("--help lists every command, login, backup and restore included") {
        auto help = run({ctl, "--help"}, env);
        CHECK(help.exitCode == 0);
        CHECK(contains(help.out, "queue"));
        CHECK(contains(help.out, "login"));
        CHECK(contains(help.out, "backup"));
        CHECK(contains(help.out, "restore"));
    }
    SECTION("its own commands stay in fetchmlctl") {
        auto queueHelp = run({ctl, "queue", "--help"}, env);
        CHECK(queueHelp.exitCode == 0);
        CHECK(contains(queueHelp.out, "--param"));
        auto version = run({ctl, "--version"}, env);
        CHECK(version.exitCode == 0);
        CHECK(contains(version.out, "fetchmlctl "));
    }
    SECTION("backup's own errors come from fetchmlctl-full") {
        auto backup =
            run({ctl, "backup", tmp.sub("b"), "--server-config", tmp.sub("none.yaml")}, env);
        CHECK(backup.exitCode != 0);
        CHECK(contains(backup.err, "none.yaml"));
        CHECK_FALSE(contains(backup.err, "fetchmlctl-full"));
    }
    SECTION("an HTTPS server, from the option or the environment, is for fetchmlctl-full") {
        // Without a pin the HTTPS transport refuses before connecting: only fetchmlctl-full
        // has that check.
        auto flag = run({ctl, "--server", "https://127.0.0.1:9", "whoami"}, env);
        CHECK(flag.exitCode == 1);
        CHECK(contains(flag.err, "no certificate fingerprint pinned for https://127.0.0.1:9"));
        auto fromEnv = run({ctl, "whoami"}, {"XDG_CONFIG_HOME=" + tmp.sub("config"),
                                             "FETCHML_SERVER=https://127.0.0.1:9",
                                             "FETCHML_FINGERPRINT=", "FETCHML_API_KEY="});
        CHECK(fromEnv.exitCode == 1);
        CHECK(contains(fromEnv.err, "no certificate fingerprint pinned"));
        // A missing API key is an authentication failure (exit 3, docs/cli.md), found before
        // connecting.
        auto noKey = run({ctl, "--server", "https://127.0.0.1:9", "--insecure", "whoami"}, env);
        CHECK(noKey.exitCode == 3);
        CHECK(contains(noKey.err, "no API key for https://127.0.0.1:9"));
    }
    SECTION("--server=URL, a server in client.yaml, and --server after the command word") {
        auto joined = run({ctl, "--server=https://127.0.0.1:9", "whoami"}, env);
        CHECK(joined.exitCode == 1);
        CHECK(contains(joined.err, "no certificate fingerprint pinned for https://127.0.0.1:9"));
        // CLI11 lets a global option follow the command word; the parsed options decide then.
        auto after = run({ctl, "whoami", "--server", "https://127.0.0.1:9"}, env);
        CHECK(after.exitCode == 1);
        CHECK(contains(after.err, "no certificate fingerprint pinned for https://127.0.0.1:9"));
        std::filesystem::create_directories(tmp.sub("config/fetchml"));
        writeFile(tmp.sub("config/fetchml/client.yaml"), "server: https://127.0.0.1:9\n");
        auto configured = run({ctl, "whoami"}, {"XDG_CONFIG_HOME=" + tmp.sub("config"),
                                                "FETCHML_FINGERPRINT=", "FETCHML_API_KEY="});
        CHECK(configured.exitCode == 1);
        CHECK(
            contains(configured.err, "no certificate fingerprint pinned for https://127.0.0.1:9"));
    }
    SECTION("a misspelt command is rejected as fetchmlctl-full rejects it") {
        auto typo = run({ctl, "qeueu"}, env);
        auto full = run({binaryPath("fetchmlctl-full"), "qeueu"}, env);
        CHECK(typo.exitCode == 1);
        CHECK(typo.exitCode == full.exitCode);
        CHECK(typo.err == "fetchmlctl: unknown command 'qeueu' (see fetchmlctl --help)\n");
        CHECK(typo.err == full.err);
        auto nested = run({ctl, "user", "ad", "alice"}, env);
        CHECK(nested.exitCode == 1);
        CHECK(nested.err == "fetchmlctl: unknown command 'user ad' (see fetchmlctl user --help)\n");
    }
}

TEST_CASE("fetchmlctl without fetchmlctl-full says what it looked for", "[ctl][handover]") {
    TempDir tmp;
    const std::string alone = tmp.sub("fetchmlctl");
    std::filesystem::copy_file(binaryPath("fetchmlctl"), alone);
    ::chmod(alone.c_str(), 0755);
    auto backup = run({alone, "backup", tmp.sub("b")}, {"XDG_CONFIG_HOME=" + tmp.sub("c")});
    if (::access(FETCHML_CTL_FULL_PATH, X_OK) == 0) {
        WARN("an installed " FETCHML_CTL_FULL_PATH " answers instead; not checked");
        return;
    }
    CHECK(backup.exitCode == 1);
    CHECK(contains(backup.err, "fetchmlctl: cannot run " FETCHML_CTL_FULL_PATH));
    CHECK(contains(backup.err, "No such file or directory"));
}

TEST_CASE("fetchmlctl keeps on the bus what is for the bus", "[ctl][handover]") {
    // A copy without fetchmlctl-full beside it: a hand-over would fail with "cannot run".
    TempDir tmp;
    const std::string alone = tmp.sub("fetchmlctl");
    std::filesystem::copy_file(binaryPath("fetchmlctl"), alone);
    ::chmod(alone.c_str(), 0755);
    if (::access(FETCHML_CTL_FULL_PATH, X_OK) == 0) {
        WARN("an installed " FETCHML_CTL_FULL_PATH " answers instead; not checked");
        return;
    }
    std::vector<std::string> env = {"XDG_CONFIG_HOME=" + tmp.sub("config"),
                                    "FETCHML_SERVER=https://127.0.0.1:9",
                                    "FETCHML_FINGERPRINT=", "FETCHML_API_KEY=",
                                    "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + tmp.sub("no-bus")};
    SECTION("an empty --server overrides FETCHML_SERVER") {
        auto empty = run({alone, "--server", "", "whoami"}, env);
        CHECK(empty.exitCode == 4);
        CHECK(contains(empty.err, "cannot connect to the system bus"));
    }
    SECTION("--server in a job's command is the job's") {
        env[1] = "FETCHML_SERVER=";
        std::filesystem::create_directories(tmp.sub("exp"));
        writeFile(tmp.sub("exp/run.sh"), "echo hi\n");
        auto job = run(
            {alone, "queue", tmp.sub("exp"), "--", "echo", "--server", "https://127.0.0.1:9"}, env);
        CHECK(job.exitCode == 4);
        CHECK(contains(job.err, "cannot connect to the system bus"));
    }
    SECTION("a server named anywhere is handed over") {
        auto flag = run({alone, "--server", "https://127.0.0.1:9", "whoami"}, env);
        CHECK(contains(flag.err, "cannot run " FETCHML_CTL_FULL_PATH));
        auto fromEnv = run({alone, "whoami"}, env);
        CHECK(contains(fromEnv.err, "cannot run " FETCHML_CTL_FULL_PATH));
        env[1] = "FETCHML_SERVER=";  // then client.yaml decides, once the options are parsed
        std::filesystem::create_directories(tmp.sub("config/fetchml"));
        writeFile(tmp.sub("config/fetchml/client.yaml"), "server: https://127.0.0.1:9\n");
        env.erase(env.begin() + 1);
        auto configured = run({alone, "whoami"}, env);
        CHECK(contains(configured.err, "cannot run " FETCHML_CTL_FULL_PATH));
    }
}
