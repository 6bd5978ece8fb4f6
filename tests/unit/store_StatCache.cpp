// The stat cache of a tree (StatCache.hpp) and Manifest::scan with it: unchanged files are not
// read, changed ones are, racily clean entries are not trusted, a damaged cache is ignored.
// No real clock: each scan's start is derived from the files' own timestamps.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/StatCache.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

FileStat statOf(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return FileStat::of(st);
}

/// A scan start safely after every file's timestamps: 2 s past the newest ctime of paths.
std::int64_t after(const std::vector<std::string>& paths) {
    std::int64_t newest = 0;
    for (const auto& p : paths) {
        FileStat s = statOf(p);
        newest = std::max({newest, s.mtimeNs, s.ctimeNs});
    }
    return newest + 2 * kSecond;
}

/// A tree of three files under tmp/tree; returns the tree's path.
std::string makeTree(const StoreTempDir& tmp) {
    writeTestFile(tmp / "tree/train.py", "print('train')\n");
    writeTestFile(tmp / "tree/data/a.csv", "x,y\n1,2\n");
    writeTestFile(tmp / "tree/run.sh", "#!/bin/sh\n", 0755);
    return tmp / "tree";
}

std::vector<std::string> treeFiles(const std::string& tree) {
    return {tree + "/train.py", tree + "/data/a.csv", tree + "/run.sh"};
}

/// Scans tree with the cache at cacheFile (loaded first), saves it for a scan that started at
/// scanStart, and returns the cache used (its counters).
StatCache scanWithCache(const std::string& tree, const std::string& cacheFile,
                        std::int64_t scanStart, Manifest* out = nullptr) {
    std::string why;
    StatCache cache = StatCache::load(cacheFile, tree, &why);
    auto manifest = Manifest::scan(tree, &cache);
    REQUIRE(manifest.ok());
    REQUIRE(cache.save(cacheFile, scanStart).ok());
    if (out != nullptr) {
        *out = *manifest;
    }
    return cache;
}

/// Returns once the file system's clock has passed ns: changes a probe file's mode until its
/// ctime is later (a few ms at most: the kernel's clock tick). Without it, a file rewritten in
/// the tick of its previous version keeps its stat data: the racy case, which the real scan
/// start guards against, but which a test scan start set in the future would not.
void passTick(const StoreTempDir& tmp, std::int64_t ns) {
    const std::string probe = tmp / "tick-probe";
    writeTestFile(probe, "");
    for (long i = 0; i < 100'000'000 && statOf(probe).ctimeNs <= ns; ++i) {
        ::chmod(probe.c_str(), (i % 2) != 0 ? 0644 : 0600);
    }
    REQUIRE(statOf(probe).ctimeNs > ns);
    ::unlink(probe.c_str());
}

}  // namespace

TEST_CASE("a scan with a warm stat cache reads no unchanged file", "[store][statcache]") {
    StoreTempDir tmp;
    const std::string tree = makeTree(tmp);
    const std::string cacheFile = tmp / "tree.cache";
    const auto plain = Manifest::scan(tree);
    REQUIRE(plain.ok());

    Manifest first;
    StatCache cold = scanWithCache(tree, cacheFile, after(treeFiles(tree)), &first);
    CHECK(cold.loadedEntries() == 0);
    CHECK(cold.hashedFiles() == 3);
    CHECK(cold.hashedBytes() == 15 + 8 + 10);
    CHECK(first.text() == plain->text());

    Manifest second;
    StatCache warm = scanWithCache(tree, cacheFile, after(treeFiles(tree)), &second);
    CHECK(warm.loadedEntries() == 3);
    CHECK(warm.reusedFiles() == 3);
    CHECK(warm.hashedFiles() == 0);
    CHECK(warm.hashedBytes() == 0);
    CHECK(second.text() == plain->text());  // modes and sizes too

    // Proof that the files were not read: a cache entry whose stat data match but whose hash is
    // another one is believed (a cache is only as good as the stat data it keeps).
    const FileStat st = statOf(tree + "/train.py");
    StatCache forged(tree);
    forged.record("train.py", st, std::string(64, 'a'));
    const std::int64_t start = after(treeFiles(tree));
    auto text = forged.serialize(start);
    auto parsed = StatCache::parse(text, tree);
    REQUIRE(parsed.ok());
    auto scanned = Manifest::scan(tree, &*parsed);
    REQUIRE(scanned.ok());
    CHECK(parsed->reusedFiles() == 1);
    CHECK(parsed->hashedFiles() == 2);
    CHECK(scanned->entries()[2].path == "train.py");
    CHECK(scanned->entries()[2].sha256 == std::string(64, 'a'));

    // As a user other than root, an unreadable file whose entry matches scans fine.
    if (::geteuid() != 0) {
        REQUIRE(::chmod((tree + "/data/a.csv").c_str(), 0) == 0);
        StatCache again = scanWithCache(tree, cacheFile, after(treeFiles(tree)));
        CHECK(again.hashedFiles() == 0);
        ::chmod((tree + "/data/a.csv").c_str(), 0644);
    }
}

TEST_CASE("a changed file is hashed again, even with its size and mtime kept",
          "[store][statcache]") {
    StoreTempDir tmp;
    const std::string tree = makeTree(tmp);
    const std::string cacheFile = tmp / "tree.cache";
    scanWithCache(tree, cacheFile, after(treeFiles(tree)));
    passTick(tmp, after(treeFiles(tree)) - 2 * kSecond);

    SECTION("rewritten with the same size") {
        writeTestFile(tree + "/train.py", "print('TRAIN')\n");
        Manifest m;
        StatCache cache = scanWithCache(tree, cacheFile, after(treeFiles(tree)), &m);
        CHECK(cache.hashedFiles() == 1);
        CHECK(cache.reusedFiles() == 2);
        CHECK(m.entries()[2].sha256 == Sha256::hashBuffer("print('TRAIN')\n"));
    }
    SECTION("rewritten with the same size and the old mtime put back (cp -p, rsync -a)") {
        const FileStat before = statOf(tree + "/train.py");
        writeTestFile(tree + "/train.py", "print('TRAIN')\n");
        const timespec times[2] = {{0, UTIME_OMIT},
                                   {static_cast<time_t>(before.mtimeNs / kSecond),
                                    static_cast<long>(before.mtimeNs % kSecond)}};
        REQUIRE(::utimensat(AT_FDCWD, (tree + "/train.py").c_str(), times, 0) == 0);
        REQUIRE(statOf(tree + "/train.py").mtimeNs == before.mtimeNs);
        Manifest m;
        StatCache cache = scanWithCache(tree, cacheFile, after(treeFiles(tree)), &m);
        CHECK(cache.hashedFiles() == 1);  // the ctime moved
        CHECK(m.entries()[2].sha256 == Sha256::hashBuffer("print('TRAIN')\n"));
    }
    SECTION("touched (same bytes, new mtime)") {
        const timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
        REQUIRE(::utimensat(AT_FDCWD, (tree + "/run.sh").c_str(), times, 0) == 0);
        StatCache cache = scanWithCache(tree, cacheFile, after(treeFiles(tree)));
        CHECK(cache.hashedFiles() == 1);
    }
    SECTION("replaced by another file (new inode), or its mode changed") {
        writeTestFile(tree + "/new.tmp", "x,y\n1,2\n");
        REQUIRE(::rename((tree + "/new.tmp").c_str(), (tree + "/data/a.csv").c_str()) == 0);
        REQUIRE(::chmod((tree + "/train.py").c_str(), 0755) == 0);
        Manifest m;
        StatCache cache = scanWithCache(tree, cacheFile, after(treeFiles(tree)), &m);
        CHECK(cache.hashedFiles() == 2);
        CHECK(m.entries()[2].mode == Manifest::kModeExecutable);
    }
    SECTION("files removed and added") {
        REQUIRE(::unlink((tree + "/run.sh").c_str()) == 0);
        writeTestFile(tree + "/notes.txt", "new\n");
        StatCache cache = scanWithCache(tree, cacheFile, after({tree + "/notes.txt"}));
        CHECK(cache.hashedFiles() == 1);
        CHECK(cache.reusedFiles() == 2);
        // run.sh is gone from the saved cache: three entries, notes.txt among them.
        StatCache reloaded = StatCache::load(cacheFile, tree);
        CHECK(reloaded.loadedEntries() == 3);
        CHECK(readTestFile(cacheFile).find(" run.sh\n") == std::string::npos);
        CHECK(readTestFile(cacheFile).find(" notes.txt\n") != std::string::npos);
    }
}

TEST_CASE("racily clean entries are hashed again by the next scan", "[store][statcache]") {
    StoreTempDir tmp;
    const std::string tree = makeTree(tmp);
    const std::string cacheFile = tmp / "tree.cache";
    const std::int64_t newest = after(treeFiles(tree)) - 2 * kSecond;

    // The scan began in the same second as train.py's last change: a change to it later in
    // that second could keep its stat data, so its entry is not kept.
    const FileStat racy = statOf(tree + "/train.py");
    const std::int64_t sameSecond = std::max(racy.mtimeNs, racy.ctimeNs);
    StatCache first = scanWithCache(tree, cacheFile, sameSecond);
    CHECK(first.hashedFiles() == 3);
    StatCache reloaded = StatCache::load(cacheFile, tree);
    CHECK(reloaded.loadedEntries() < 3);
    CHECK(readTestFile(cacheFile).find(" train.py\n") == std::string::npos);

    // The next scan hashes it again (and whatever else was as young), then keeps it once the
    // scan started a later second.
    StatCache second = scanWithCache(tree, cacheFile, newest + 2 * kSecond);
    CHECK(second.hashedFiles() >= 1);
    CHECK(second.hashedFiles() == 3 - reloaded.loadedEntries());
    StatCache third = scanWithCache(tree, cacheFile, newest + 3 * kSecond);
    CHECK(third.hashedFiles() == 0);
    CHECK(third.reusedFiles() == 3);

    // An entry in a cache file (however it got there) whose mtime is not older than the
    // second its scan began is not trusted either.
    StatCache written(tree);
    written.record("train.py", racy, Sha256::hashBuffer("print('train')\n"));
    std::string text = written.serialize(racy.ctimeNs + 5 * kSecond);
    const std::string startLine = "scan-start " + std::to_string(racy.ctimeNs + 5 * kSecond);
    const std::string racyLine = "scan-start " + std::to_string(racy.mtimeNs);
    text.replace(text.find(startLine), startLine.size(), racyLine);
    // Fix the checksum of the edited text so that only the rule rejects the entry.
    const std::size_t end = text.rfind("end ");
    const std::string body = text.substr(0, end);
    text = body + "end 1 " + Sha256::hashBuffer(body) + "\n";
    auto parsed = StatCache::parse(text, tree);
    REQUIRE(parsed.ok());
    CHECK(parsed->loadedEntries() == 1);
    CHECK_FALSE(parsed->lookup("train.py", racy).has_value());
}

TEST_CASE("a damaged or foreign stat cache is ignored, never trusted", "[store][statcache]") {
    StoreTempDir tmp;
    const std::string tree = makeTree(tmp);
    const std::string cacheFile = tmp / "tree.cache";
    scanWithCache(tree, cacheFile, after(treeFiles(tree)));
    const std::string good = readTestFile(cacheFile);
    REQUIRE(StatCache::load(cacheFile, tree).loadedEntries() == 3);

    auto damage = [&](const std::string& text) {
        writeTestFile(cacheFile, text, 0600);
        std::string why;
        StatCache cache = StatCache::load(cacheFile, tree, &why);
        CHECK(cache.loadedEntries() == 0);
        CHECK_FALSE(why.empty());
        auto m = Manifest::scan(tree, &cache);
        REQUIRE(m.ok());
        CHECK(cache.hashedFiles() == 3);
        CHECK(m->text() == Manifest::scan(tree)->text());
        return why;
    };
    SECTION("a flipped digit in a hash") {
        std::string text = good;
        const std::size_t at = text.find(" data/a.csv\n") - 1;
        text[at] = text[at] == '0' ? '1' : '0';
        CHECK(damage(text).find("checksum") != std::string::npos);
    }
    SECTION("truncated") {
        damage(good.substr(0, good.size() / 2));
        damage(good.substr(0, good.rfind("end ")));
        damage("");
    }
    SECTION("another format version") {
        std::string text = good;
        text.replace(0, std::string(StatCache::kHeader).size(), "fetchml-stat-cache 2");
        damage(text);
    }
    SECTION("another tree's cache, with a valid checksum") {
        writeTestFile(cacheFile, good, 0600);
        std::string why;
        CHECK(StatCache::load(cacheFile, tmp / "other", &why).loadedEntries() == 0);
        CHECK(why.find("another tree") != std::string::npos);
    }
    SECTION("a malformed entry, with a valid checksum") {
        std::string body = good.substr(0, good.rfind("end "));
        body += "12 not-a-time 0 1 2 100644 " + std::string(64, 'b') + " x\n";
        const std::string text = body + "end 4 " + Sha256::hashBuffer(body) + "\n";
        CHECK(damage(text).find("line ") != std::string::npos);
    }
    SECTION("not a file") {
        ::unlink(cacheFile.c_str());
        REQUIRE(::mkdir(cacheFile.c_str(), 0700) == 0);
        std::string why;
        CHECK(StatCache::load(cacheFile, tree, &why).loadedEntries() == 0);
        CHECK_FALSE(why.empty());
        ::rmdir(cacheFile.c_str());
    }
    SECTION("absent: empty, and no complaint") {
        std::string why = "x";
        CHECK(StatCache::load(tmp / "none.cache", tree, &why).loadedEntries() == 0);
        CHECK(why.empty());
    }
}

TEST_CASE("the stat cache file is written atomically, mode 0600", "[store][statcache]") {
    StoreTempDir tmp;
    const std::string tree = makeTree(tmp);
    const std::string cacheFile = tmp / "tree.cache";
    StatCache cache(tree);
    REQUIRE(Manifest::scan(tree, &cache).ok());
    REQUIRE(cache.save(cacheFile, after(treeFiles(tree))).ok());
    struct stat st {};
    REQUIRE(::stat(cacheFile.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // No temporary file is left beside it.
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
        files += e.is_regular_file() ? 1 : 0;
    }
    CHECK(files == 1);
    // A directory that does not exist: an error naming the path.
    auto failed = cache.save(tmp / "missing/tree.cache", 0);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message.find("missing/tree.cache") != std::string::npos);
}
