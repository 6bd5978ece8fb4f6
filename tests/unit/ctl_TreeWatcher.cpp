// TreeWatcher (inotify(7) over a tree, for `fetchmlctl watch`) on a real temporary directory.
// inotify queues an event when the change is made, so each read() here sees what was done
// before it without waiting.

#include <catch2/catch.hpp>

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "TreeWatcher.hpp"
#include "store_TempDir.hpp"

using fetchml::ctl::TreeWatcher;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

std::unique_ptr<TreeWatcher> watch(const std::string& root) {
    auto w = TreeWatcher::open(root);
    REQUIRE(w.ok());
    return std::move(*w);
}

TreeWatcher::Events readEvents(TreeWatcher& w) {
    auto events = w.read();
    REQUIRE(events.ok());
    return *events;
}

bool has(const TreeWatcher::Events& e, const std::string& path) {
    return std::find(e.paths.begin(), e.paths.end(), path) != e.paths.end();
}

}  // namespace

TEST_CASE("changes to files of the tree are seen, in new directories too", "[ctl][watch]") {
    StoreTempDir tmp;
    writeTestFile(tmp / "train.py", "x = 1\n");
    writeTestFile(tmp / "src/a/b.py", "b\n");
    auto w = watch(tmp.path());
    CHECK(w->directories() == 3);  // ., src, src/a
    CHECK(readEvents(*w).changes == 0);

    writeTestFile(tmp / "train.py", "x = 2\n");
    auto e = readEvents(*w);
    CHECK(e.changes > 0);
    CHECK(has(e, "train.py"));
    CHECK(readEvents(*w).changes == 0);  // read once

    writeTestFile(tmp / "src/a/b.py", "b2\n");
    CHECK(has(readEvents(*w), "src/a/b.py"));

    // A new directory tree: created with files in it before the watcher looks; it is watched
    // from then on, all the way down.
    writeTestFile(tmp / "new/deep/er/f.txt", "f\n");
    e = readEvents(*w);
    CHECK(has(e, "new"));
    CHECK(w->directories() == 6);
    writeTestFile(tmp / "new/deep/er/g.txt", "g\n");
    CHECK(has(readEvents(*w), "new/deep/er/g.txt"));

    // Removed: the watches go.
    std::filesystem::remove_all(tmp / "new");
    e = readEvents(*w);
    CHECK(e.changes > 0);
    CHECK(w->directories() == 3);
}

TEST_CASE("a directory moved inside the tree is followed at its new path", "[ctl][watch]") {
    StoreTempDir tmp;
    writeTestFile(tmp / "src/sub/x.py", "x\n");
    auto w = watch(tmp.path());
    REQUIRE(::rename((tmp / "src").c_str(), (tmp / "lib").c_str()) == 0);
    auto e = readEvents(*w);
    CHECK(has(e, "src"));
    CHECK(has(e, "lib"));
    CHECK(w->directories() == 3);
    writeTestFile(tmp / "lib/sub/y.py", "y\n");
    CHECK(has(readEvents(*w), "lib/sub/y.py"));

    // Moved out of the tree: no longer watched, its changes no longer seen.
    StoreTempDir outside;
    REQUIRE(::rename((tmp / "lib").c_str(), (outside / "lib").c_str()) == 0);
    CHECK(readEvents(*w).changes > 0);
    CHECK(w->directories() == 1);
    writeTestFile(outside / "lib/sub/z.py", "z\n");
    CHECK(readEvents(*w).changes == 0);
}

TEST_CASE("ignored paths and .git cause no change", "[ctl][watch]") {
    StoreTempDir tmp;
    writeTestFile(tmp / ".fetchmlignore", "*.log\noutput/\n");
    writeTestFile(tmp / "train.py", "x\n");
    writeTestFile(tmp / "output/model.bin", "m");
    writeTestFile(tmp / ".git/HEAD", "ref: refs/heads/main\n");
    auto w = watch(tmp.path());
    CHECK(w->directories() == 1);  // neither output/ nor .git/

    writeTestFile(tmp / "run.log", "step 1\n");
    writeTestFile(tmp / "output/model.bin", "m2");
    writeTestFile(tmp / ".git/HEAD", "ref: refs/heads/other\n");
    writeTestFile(tmp / ".git/objects/ab/cd", "object");
    auto e = readEvents(*w);
    CHECK(e.changes == 0);
    CHECK(e.ignored > 0);  // run.log; inside output/ and .git/ nothing is even watched

    // A change to .fetchmlignore is a change, and the watches follow the new rules.
    writeTestFile(tmp / ".fetchmlignore", "*.log\n");
    e = readEvents(*w);
    CHECK(has(e, ".fetchmlignore"));
    CHECK(w->directories() == 2);  // output/ now belongs to the tree
    writeTestFile(tmp / "output/model.bin", "m3");
    CHECK(has(readEvents(*w), "output/model.bin"));
    writeTestFile(tmp / ".fetchmlignore", "*.log\noutput/\n");
    readEvents(*w);
    CHECK(w->directories() == 1);
}

TEST_CASE("a full event queue is reported and the watches are rebuilt", "[ctl][watch]") {
    StoreTempDir tmp;
    writeTestFile(tmp / "a", "");
    writeTestFile(tmp / "b", "");
    auto w = watch(tmp.path());
    long limit = std::stol("0" + readTestFile("/proc/sys/fs/inotify/max_queued_events"));
    if (limit <= 0 || limit > 1000000) {
        WARN("not tested: fs.inotify.max_queued_events is " << limit);
        return;
    }
    // Alternate between two files: identical consecutive events are merged by the kernel.
    for (long i = 0; i <= limit / 2 + 10; ++i) {
        ::chmod((tmp / "a").c_str(), (i % 2) != 0 ? 0644 : 0600);
        ::chmod((tmp / "b").c_str(), (i % 2) != 0 ? 0644 : 0600);
    }
    // A directory made after the overflow: found by the rebuild, not by an event.
    writeTestFile(tmp / "late/x", "x");
    TreeWatcher::Events e;
    bool overflow = false;
    for (int i = 0; i < 100 && !overflow; ++i) {  // read() takes at most 1 MiB a call
        e = readEvents(*w);
        overflow = e.overflow;
    }
    CHECK(overflow);
    CHECK(w->directories() == 2);
    writeTestFile(tmp / "late/y", "y");
    CHECK(has(readEvents(*w), "late/y"));
}

TEST_CASE("the root going away is reported", "[ctl][watch]") {
    StoreTempDir tmp;
    const std::string root = tmp / "tree";
    writeTestFile(root + "/f", "f");
    auto w = watch(root);
    std::filesystem::remove_all(root);
    CHECK(readEvents(*w).rootGone);

    auto absent = TreeWatcher::open(tmp / "nowhere");
    REQUIRE_FALSE(absent.ok());
    CHECK(absent.error().message.find("nowhere") != std::string::npos);
}
