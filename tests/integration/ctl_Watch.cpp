// `fetchmlctl watch DIR --queue -- CMD` end to end: the real fetchmlctl binary, as a child
// process, following a directory with inotify and syncing it to a real fetchmld on a private
// D-Bus system bus (no worker: the jobs stay queued). A change is synced and its commit
// queued; a burst of changes is one sync; an ignored file or .git/ causes none; a commit is
// never queued twice; SIGTERM ends it with exit status 0 and a line saying what it did.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "store/Manifest.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;

namespace {

constexpr int kDebounceMs = 800;

struct Fixture {
    Fixture() : stack(true) {
        mkdir(exp().c_str(), 0755);
        mkdir(stack.tmp.sub("xdg").c_str(), 0755);
        writeFile(file(".fetchmlignore"), "*.log\n");
        writeFile(file("train.py"), "print(1)\n");
    }

    std::string exp() const { return stack.tmp.sub("exp"); }
    std::string file(const std::string& name) const { return stack.tmp.sub("exp/" + name); }
    std::string out() const { return readFile(stack.tmp.sub("watch.out")); }
    std::string why() const {
        return "watch stdout:\n" + out() + "watch stderr:\n" + readFile(stack.tmp.sub("watch.err"));
    }

    void start(const std::vector<std::string>& args) {
        SpawnOptions o;
        o.argv = {binaryPath("fetchmlctl"), "watch", exp()};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {stack.busEnv(),
                 "FETCHML_SERVER=", "FETCHML_API_KEY=", "XDG_CONFIG_HOME=" + stack.tmp.sub("xdg")};
        o.stdoutPath = stack.tmp.sub("watch.out");
        o.stderrPath = stack.tmp.sub("watch.err");
        watcher = Process::spawn(o);
    }

    /// Waits (bounded) until stdout holds text n times; fails with the watcher's output.
    void waitFor(const std::string& text, std::size_t n = 1) {
        bool seen = waitUntil([&] { return count(text) >= n || !watcher->running(); }, 60000);
        INFO(why());
        REQUIRE(seen);
        REQUIRE(count(text) >= n);
    }
    std::size_t count(const std::string& text) const {
        const std::string o = out();
        std::size_t n = 0;
        for (auto at = o.find(text); at != std::string::npos; at = o.find(text, at + 1)) {
            ++n;
        }
        return n;
    }
    /// The job id of the line "queued job <id> for commit <commit's first 12>".
    std::string jobFor(const std::string& commit) const {
        const std::string o = out();
        const std::string tail = " for commit " + commit.substr(0, 12) + "\n";
        auto end = o.find(tail);
        auto start = o.rfind("queued job ", end);
        if (end == std::string::npos || start == std::string::npos) {
            return "";
        }
        start += std::string("queued job ").size();
        return o.substr(start, end - start);
    }
    void checkJob(const std::string& commit) {
        const std::string id = jobFor(commit);
        INFO(why());
        REQUIRE_FALSE(id.empty());
        auto job = stack.client->GetJob({{"id", sdbus::Variant(id)}});
        CHECK(job.at("commit").get<std::string>() == commit);
        CHECK(job.at("name").get<std::string>() == "watched");
        CHECK(job.at("state").get<std::string>() == "queued");
    }

    Stack stack;
    std::optional<Process> watcher;
};

std::string commitOf(const std::string& dir) {
    auto manifest = fetchml::Manifest::scan(dir);
    REQUIRE(manifest.ok());
    return manifest->commitId();
}

void pauseMs(int ms) {
    ::usleep(static_cast<useconds_t>(ms) * 1000);
}

}  // namespace

TEST_CASE("watch syncs each change once a burst is over and queues each new commit once",
          "[ctl][watch]") {
    Fixture f;
    f.start({"--debounce", std::to_string(kDebounceMs), "--queue", "--name", "watched", "--",
             "python3", "train.py"});

    // At start: the tree as it is is synced and queued.
    const std::string c0 = commitOf(f.exp());
    f.waitFor("synced " + c0 + ": 2 files");
    f.waitFor("for commit " + c0.substr(0, 12));
    f.checkJob(c0);

    // A change: synced, stored, and a job queued for the new commit.
    writeFile(f.file("train.py"), "print(2)\n");
    const std::string c1 = commitOf(f.exp());
    REQUIRE(c1 != c0);
    f.waitFor("synced " + c1);
    auto manifest = f.stack.client->GetManifest({{"commit", sdbus::Variant(c1)}});
    CHECK(fetchml::Manifest::parse(manifest.at("manifest").get<std::string>())->commitId() == c1);
    f.waitFor("for commit " + c1.substr(0, 12));
    f.checkJob(c1);
    REQUIRE(f.count("synced ") == 2);

    // A burst of changes, each well within the debounce time of the one before, with a new
    // directory in it: one sync, of the last state, and one job.
    for (int i = 3; i <= 8; ++i) {
        writeFile(f.file("train.py"), "print(" + std::to_string(i) + ")\n");
        pauseMs(20);
    }
    mkdir(f.file("src").c_str(), 0755);
    writeFile(f.file("src/model.py"), "W = 1\n");
    const std::string c2 = commitOf(f.exp());
    f.waitFor("synced " + c2);
    f.waitFor("for commit " + c2.substr(0, 12));
    pauseMs(3 * kDebounceMs);
    {
        INFO(f.why());
        CHECK(f.count("synced ") == 3);
        CHECK(f.count("queued job ") == 3);
    }
    f.checkJob(c2);

    // Ignored files (.fetchmlignore's *.log), and .git/, cause no sync at all.
    writeFile(f.file("train.log"), "step 1\n");
    mkdir(f.file(".git").c_str(), 0755);
    writeFile(f.file(".git/HEAD"), "ref: refs/heads/main\n");
    writeFile(f.file("src/debug.log"), "x\n");
    pauseMs(3 * kDebounceMs);
    {
        INFO(f.why());
        CHECK(f.count("synced ") == 3);
    }

    // Back to a version queued before: synced, not queued again.
    ::unlink(f.file("src/model.py").c_str());
    ::unlink(f.file("src/debug.log").c_str());
    ::rmdir(f.file("src").c_str());
    writeFile(f.file("train.py"), "print(2)\n");
    REQUIRE(commitOf(f.exp()) == c1);
    f.waitFor("synced " + c1, 2);
    f.waitFor("was queued before: not queued again");
    {
        INFO(f.why());
        CHECK(f.count("queued job ") == 3);
    }

    // SIGTERM: exit 0, and what it did.
    const int status = f.watcher->stop(SIGTERM, 20000);
    INFO(f.why());
    CHECK(status == 0);
    CHECK(f.out().find("stopped by SIGTERM: 4 syncs, 3 commits, 3 jobs queued") !=
          std::string::npos);
    CHECK(readFile(f.stack.tmp.sub("watch.err")).empty());
}

TEST_CASE("watch without --queue only syncs; queue options need --queue", "[ctl][watch]") {
    Fixture f;
    auto noCommand = f.stack.ctlLocal({"watch", f.exp(), "--queue"});
    CHECK(noCommand.exitCode == 1);
    CHECK(noCommand.err.find("--queue needs the command") != std::string::npos);
    auto stray = f.stack.ctlLocal({"watch", f.exp(), "--image", "x"});
    CHECK(stray.exitCode == 1);
    CHECK(stray.err.find("--image is a queue option") != std::string::npos);
    auto badParam = f.stack.ctlLocal({"watch", f.exp(), "--queue", "--param", "=1", "--", "true"});
    CHECK(badParam.exitCode == 1);

    f.start({"--debounce", "100"});
    const std::string c0 = commitOf(f.exp());
    f.waitFor("synced " + c0);
    writeFile(f.file("data.csv"), "x\n1\n");
    const std::string c1 = commitOf(f.exp());
    f.waitFor("synced " + c1);
    const int status = f.watcher->stop(SIGINT, 20000);
    INFO(f.why());
    CHECK(status == 0);
    CHECK(f.out().find("queued") == std::string::npos);
    CHECK(f.out().find("stopped by SIGINT: 2 syncs, 2 commits\n") != std::string::npos);
}
