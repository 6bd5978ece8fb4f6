// The client side of chunked files (ChunkedUpload.hpp, ChunkCache.hpp): the fine chunk cache's
// format, and how a changed large file becomes a delta against the version sent before.

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <random>

#include "ChunkCache.hpp"
#include "ChunkedUpload.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using namespace fetchml::ctl;
using fetchml::testing::randomBytes;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

FineChunks sample() {
    return FineChunks{std::string(64, 'f'),
                      12,
                      {ChunkRef{std::string(64, 'a'), 5}, ChunkRef{std::string(64, 'b'), 7}}};
}

Chunk chunk(std::uint64_t offset, std::uint32_t size, char c) {
    return Chunk{offset, size, std::string(64, c)};
}

// The bytes a part list builds from base and the piece bytes (blobs by hash).
std::string build(const std::vector<FilePart>& parts, const std::string& base,
                  const std::map<std::string, std::string>& blobs) {
    std::string out;
    for (const auto& part : parts) {
        out += part.fromBase() ? base.substr(part.baseOffset, part.size) : blobs.at(part.sha256);
    }
    return out;
}

}  // namespace

TEST_CASE("chunk cache entries: text form, round trip and damage", "[ctl][chunks]") {
    const FineChunks entry = sample();
    const std::string text = formatFineChunks(entry);
    CHECK(text == "fetchml-fine-chunks 1\nfile " + std::string(64, 'f') + " 12\n" +
                      std::string(64, 'a') + " 5\n" + std::string(64, 'b') + " 7\nend 2\n");
    auto back = parseFineChunks(text);
    REQUIRE(back);
    CHECK(back->sha256 == entry.sha256);
    CHECK(back->size == 12);
    CHECK(back->chunks == entry.chunks);

    CHECK(!parseFineChunks(text.substr(0, text.size() - 7)));  // the end line is gone
    CHECK(!parseFineChunks("fetchml-fine-chunks 2\n" + text.substr(22)));
    std::string miscount = text;
    miscount.replace(miscount.find("end 2"), 5, "end 3");
    CHECK(!parseFineChunks(miscount));
    std::string missized = text;
    missized.replace(missized.find(" 12\n"), 4, " 13\n");
    auto wrongSum = parseFineChunks(missized);
    REQUIRE(!wrongSum);
    CHECK(wrongSum.error().message.find("add up to 12 bytes, not the file's 13") !=
          std::string::npos);
}

TEST_CASE("chunk cache: one entry per tree path, replaced atomically", "[ctl][chunks]") {
    StoreTempDir tmp;
    ChunkCache cache(tmp / "cache/chunks", "/home/me/exp");
    CHECK(!cache.load("big.bin"));
    REQUIRE(cache.save("big.bin", sample()));
    auto loaded = cache.load("big.bin");
    REQUIRE(loaded);
    CHECK(loaded->chunks == sample().chunks);
    struct stat st {};
    REQUIRE(::stat(cache.pathOf("big.bin").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((tmp / "cache/chunks").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    // Another tree's file of the same name is another entry.
    CHECK(ChunkCache(tmp / "cache/chunks", "/home/me/other").pathOf("big.bin") !=
          cache.pathOf("big.bin"));
    CHECK(!ChunkCache(tmp / "cache/chunks", "/home/me/other").load("big.bin"));
    // A damaged entry is not used.
    writeTestFile(cache.pathOf("big.bin"), readTestFile(cache.pathOf("big.bin")).substr(0, 80),
                  0600);
    CHECK(!cache.load("big.bin"));
    // Disabled: nothing is read or written.
    ChunkCache off("", "/home/me/exp");
    CHECK(off.save("big.bin", sample()));
    CHECK(!off.load("big.bin"));
    CHECK(chunkCacheDir("/x/cache", "/home/me") == "/x/cache/fetchml/chunks");
    CHECK(chunkCacheDir("relative", "/home/me") == "/home/me/.cache/fetchml/chunks");
    CHECK(chunkCacheDir(nullptr, nullptr).empty());
}

TEST_CASE("chunk cache: entries of synced files stay, those unused for 90 days go",
          "[ctl][chunks]") {
    StoreTempDir tmp;
    const std::string dir = tmp / "cache/chunks";
    ChunkCache cache(dir, "/home/me/exp");
    ChunkCache other(dir, "/home/me/old-project");
    REQUIRE(cache.save("kept.bin", sample()));
    REQUIRE(cache.save("gone.bin", sample()));
    REQUIRE(other.save("data.bin", sample()));
    writeTestFile(dir + "/notes.txt", "not an entry\n", 0600);
    const std::int64_t now = 1'800'000'000;
    const std::int64_t day = 86400;
    auto age = [&](const std::string& path, std::int64_t days) {
        struct timespec t[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(now - days * day), 0}};
        REQUIRE(::utimensat(AT_FDCWD, path.c_str(), t, 0) == 0);
    };
    auto mtime = [](const std::string& path) -> std::int64_t {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 ? st.st_mtim.tv_sec : -1;
    };
    for (const auto& path : {cache.pathOf("kept.bin"), cache.pathOf("gone.bin"),
                             other.pathOf("data.bin"), dir + "/notes.txt"}) {
        age(path, 100);
    }
    // A sync of /home/me/exp whose only large file is kept.bin.
    cache.keep({"kept.bin"}, now);
    CHECK(mtime(cache.pathOf("kept.bin")) == now);        // used now
    CHECK(mtime(cache.pathOf("gone.bin")) == -1);         // unused for 100 days
    CHECK(mtime(other.pathOf("data.bin")) == -1);         // another tree's, as old
    CHECK(mtime(dir + "/notes.txt") == now - 100 * day);  // not an entry: left alone
    CHECK(mtime(dir + "/.pruned") == now);

    // At most one pass a day: an entry that grew old since stays until the next day's pass.
    age(cache.pathOf("kept.bin"), 91);
    cache.keep({}, now + day / 2);
    CHECK(mtime(cache.pathOf("kept.bin")) == now - 91 * day);
    cache.keep({}, now + day + 1);
    CHECK(mtime(cache.pathOf("kept.bin")) == -1);
    // Used within the last day: not rewritten.
    REQUIRE(cache.save("fresh.bin", sample()));
    age(cache.pathOf("fresh.bin"), 0);
    cache.keep({"fresh.bin"}, now + 3600);
    CHECK(mtime(cache.pathOf("fresh.bin")) == now);
}

TEST_CASE("planDelta: unchanged chunks become ranges of the base, new ones pieces",
          "[ctl][chunks]") {
    // Base: a(10) b(20) c(30) d(40) at 0, 10, 30, 60.
    FineChunks base{std::string(64, 'f'),
                    100,
                    {ChunkRef{std::string(64, 'a'), 10}, ChunkRef{std::string(64, 'b'), 20},
                     ChunkRef{std::string(64, 'c'), 30}, ChunkRef{std::string(64, 'd'), 40}}};
    SECTION("a changed chunk in the middle") {
        auto spans = planDelta(
            {chunk(0, 10, 'a'), chunk(10, 20, 'b'), chunk(30, 25, 'x'), chunk(55, 40, 'd')}, base);
        REQUIRE(spans.size() == 3);
        CHECK((spans[0].fromBase && spans[0].offset == 0 && spans[0].size == 30 &&
               spans[0].baseOffset == 0));
        CHECK((!spans[1].fromBase && spans[1].offset == 30 && spans[1].size == 25));
        CHECK((spans[2].fromBase && spans[2].offset == 55 && spans[2].size == 40 &&
               spans[2].baseOffset == 60));
    }
    SECTION("moved chunks are separate ranges; new runs split at the piece limit") {
        auto spans = planDelta({chunk(0, 30, 'c'), chunk(30, 10, 'a'), chunk(40, 8, 'x'),
                                chunk(48, 8, 'y'), chunk(56, 8, 'z')},
                               base, 16);
        REQUIRE(spans.size() == 4);
        CHECK((spans[0].fromBase && spans[0].baseOffset == 30 && spans[0].size == 30));
        CHECK((spans[1].fromBase && spans[1].baseOffset == 0 && spans[1].size == 10));
        CHECK((!spans[2].fromBase && spans[2].offset == 40 && spans[2].size == 16));
        CHECK((!spans[3].fromBase && spans[3].offset == 56 && spans[3].size == 8));
    }
    SECTION("a chunk of the same hash but another size is not the base's") {
        auto spans = planDelta({chunk(0, 11, 'a')}, base);
        REQUIRE(spans.size() == 1);
        CHECK(!spans[0].fromBase);
    }
}

TEST_CASE("prepareChunkedUpload: a full chunk list, then a delta that rebuilds the file",
          "[ctl][chunks]") {
    StoreTempDir tmp;
    std::string v1 = randomBytes(12u << 20, 7);
    writeTestFile(tmp / "big.bin", v1);
    ManifestEntry e1{"big.bin", Manifest::kModeFile, v1.size(), Sha256::hashBuffer(v1)};
    auto full = prepareChunkedUpload(tmp.path(), e1, nullptr);
    REQUIRE(full);
    CHECK(full->base.empty());
    CHECK(full->fine.sha256 == e1.sha256);
    std::uint64_t sum = 0;
    for (const auto& part : full->parts) {
        CHECK(!part.fromBase());
        sum += part.size;
    }
    CHECK(sum == v1.size());
    // Coarse chunks go to the server, fine ones stay in the cache: about 8x as many.
    CHECK(full->fine.chunks.size() > 4 * full->parts.size());

    // Change 1 MiB in the middle and insert 100 bytes near the start.
    std::string v2 = v1;
    v2.replace(6u << 20, 1u << 20, randomBytes(1u << 20, 8));
    v2.insert(100000, std::string(100, 'z'));
    writeTestFile(tmp / "big.bin", v2);
    ManifestEntry e2{"big.bin", Manifest::kModeFile, v2.size(), Sha256::hashBuffer(v2)};
    auto delta = prepareChunkedUpload(tmp.path(), e2, &full->fine);
    REQUIRE(delta);
    CHECK(delta->base == e1.sha256);
    std::map<std::string, std::string> blobs;
    std::uint64_t sent = 0;
    for (const auto& blob : delta->blobs) {
        blobs[blob.sha256] = v2.substr(blob.offset, blob.size);
        CHECK(Sha256::hashBuffer(blobs[blob.sha256]) == blob.sha256);
        CHECK(blob.size <= kMaxListedChunkBytes);
        sent += blob.size;
    }
    CHECK(build(delta->parts, v1, blobs) == v2);
    // The changed bytes plus about one 8 KiB chunk at each end of each change.
    CHECK(sent >= (1u << 20) + 100);
    CHECK(sent <= (1u << 20) + 100 + 4 * (32u << 10));

    SECTION("a file that changed since the scan is refused") {
        writeTestFile(tmp / "big.bin", v1);
        auto changed = prepareChunkedUpload(tmp.path(), e2, &full->fine);
        REQUIRE(!changed);
        CHECK(changed.error().message.find("changed since it was scanned") != std::string::npos);
    }
}
