// ChunkedFiles: which chunks fetchmld can produce, and assembling a file from its chunk list
// (decisions.md "Chunked files"). Real SQLite database, real blob store on disk.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "ChunkedFiles.hpp"
#include "fetchmld_TempDb.hpp"
#include "store/ChunkList.hpp"
#include "store/FastCdc.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;

namespace {

std::string randomBytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) {
        c = static_cast<char>(rng());
    }
    return s;
}

// The chunks of data as FetchML's clients cut it.
std::vector<std::string> cut(const std::string& data) {
    auto cdc = FastCdc::create(FastCdc::kFileLimits);
    REQUIRE(cdc);
    std::vector<std::string> out;
    for (std::size_t at = 0; at < data.size();) {
        std::size_t n =
            cdc->cut(reinterpret_cast<const unsigned char*>(data.data()) + at, data.size() - at);
        out.push_back(data.substr(at, n));
        at += n;
    }
    return out;
}

std::vector<ChunkRef> refs(const std::vector<std::string>& chunks) {
    std::vector<ChunkRef> out;
    for (const auto& c : chunks) {
        out.push_back(ChunkRef{Sha256::hashBuffer(c), static_cast<std::uint32_t>(c.size())});
    }
    return out;
}

std::vector<std::string> hashes(const std::vector<std::string>& chunks) {
    std::vector<std::string> out;
    for (const auto& c : chunks) {
        out.push_back(Sha256::hashBuffer(c));
    }
    return out;
}

std::string readBlob(const BlobStore& store, const std::string& sha) {
    auto fd = store.open(sha);
    REQUIRE(fd);
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd->get(), buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

struct Fixture {
    TempDb tmp;
    BlobStore store = *BlobStore::create(tmp.dir + "/store");
    ChunkedFiles files{*tmp.db, store};

    void putChunks(const std::vector<std::string>& chunks) {
        for (const auto& c : chunks) {
            REQUIRE(store.putBuffer(c, Sha256::hashBuffer(c)));
        }
    }
};

}  // namespace

TEST_CASE("ChunkedFiles: a file is assembled from its chunk blobs", "[fetchmld][chunks]") {
    Fixture f;
    const std::string data = randomBytes(3u << 20, 1);
    const auto chunks = cut(data);
    REQUIRE(chunks.size() > 5);
    const std::string sha = Sha256::hashBuffer(data);

    auto missing = f.files.missing(hashes(chunks));
    REQUIRE(missing);
    CHECK(missing->size() == chunks.size());

    SECTION("not before every chunk is there, and then nothing is stored") {
        f.putChunks({chunks.begin(), chunks.end() - 1});
        auto r = f.files.assemble(sha, data.size(), refs(chunks));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::NotFound);
        CHECK(r.error().message.find("chunk " + std::to_string(chunks.size())) !=
              std::string::npos);
        CHECK_FALSE(f.store.has(sha));
    }
    SECTION("with all chunks, the file is stored and its chunks recorded") {
        f.putChunks(chunks);
        auto r = f.files.assemble(sha, data.size(), refs(chunks));
        REQUIRE(r);
        CHECK(r->stored);
        CHECK(r->fromBlobs == data.size());
        CHECK(r->fromFiles == 0);
        CHECK(r->chunksIndexed == chunks.size());
        CHECK(readBlob(f.store, sha) == data);
    }
}

TEST_CASE("ChunkedFiles: the next version needs only its new chunks", "[fetchmld][chunks]") {
    Fixture f;
    const std::string v1 = randomBytes(4u << 20, 2);
    std::string v2 = v1;
    v2.replace(2u << 20, 100000, randomBytes(100000, 3));
    const auto c1 = cut(v1);
    const auto c2 = cut(v2);
    f.putChunks(c1);
    REQUIRE(f.files.assemble(Sha256::hashBuffer(v1), v1.size(), refs(c1)));

    // Chunk blobs are not what makes v1's chunks available: the recorded ranges of v1 are.
    // (A server that has v1 from an earlier sync has no chunk blobs at all after GC.)
    TempDb other;
    BlobStore store2 = *BlobStore::create(other.dir + "/store");
    REQUIRE(store2.putBuffer(v1, Sha256::hashBuffer(v1)));
    ChunkedFiles files2(*other.db, store2);
    REQUIRE(files2.assemble(Sha256::hashBuffer(v1), v1.size(), refs(c1)));  // indexes v1

    auto missing = files2.missing(hashes(c2));
    REQUIRE(missing);
    std::uint64_t missingBytes = 0;
    std::vector<std::string> sent;
    for (const auto& c : c2) {
        if (std::find(missing->begin(), missing->end(), Sha256::hashBuffer(c)) != missing->end()) {
            missingBytes += c.size();
            sent.push_back(c);
        }
    }
    INFO("missing " << missingBytes << " bytes for a 100,000-byte change");
    CHECK(missingBytes >= 100000);
    CHECK(missingBytes <= 100000 + 2 * FastCdc::kFileLimits.max);

    for (const auto& c : sent) {
        REQUIRE(store2.putBuffer(c, Sha256::hashBuffer(c)));
    }
    auto r = files2.assemble(Sha256::hashBuffer(v2), v2.size(), refs(c2));
    REQUIRE(r);
    CHECK(r->stored);
    CHECK(r->fromBlobs == missingBytes);
    CHECK(r->fromFiles == v2.size() - missingBytes);
    CHECK(readBlob(store2, Sha256::hashBuffer(v2)) == v2);
}

TEST_CASE("ChunkedFiles: a lying chunk list stores and records nothing", "[fetchmld][chunks]") {
    Fixture f;
    const std::string data = randomBytes(2u << 20, 4);
    const auto chunks = cut(data);
    f.putChunks(chunks);
    const std::string sha = Sha256::hashBuffer(data);

    SECTION("sizes that do not add up") {
        auto r = f.files.assemble(sha, data.size() + 1, refs(chunks));
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("sizes add up to") != std::string::npos);
    }
    SECTION("a chunk size that is not the blob's") {
        auto list = refs(chunks);
        list[0].size -= 1;
        list[1].size += 1;
        auto r = f.files.assemble(sha, data.size(), list);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("chunk 1 (") != std::string::npos);
    }
    SECTION("chunks in the wrong order hash to another file") {
        auto list = refs(chunks);
        std::swap(list[0], list[1]);
        auto r = f.files.assemble(sha, data.size(), list);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK_FALSE(f.store.has(sha));
    }
    SECTION("an already stored file is checked range by range before it is recorded") {
        REQUIRE(f.store.putBuffer(data, sha));
        auto list = refs(chunks);
        std::swap(list[0], list[1]);
        auto r = f.files.assemble(sha, data.size(), list);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("hash to") != std::string::npos);
        auto rows = f.tmp.db->prepare("SELECT count(*) FROM file_chunks");
        REQUIRE(rows);
        REQUIRE(*(*rows)->step());
        CHECK((*rows)->int64(0) == 0);
    }
    CHECK(f.files.missing({"not-a-hash"}).error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("chunk lists: text form round trip and errors by line", "[store][chunks]") {
    std::vector<Chunk> chunks{{0, 10, std::string(64, 'a')}, {10, 20, std::string(64, 'b')}};
    auto text = formatChunkList(chunks);
    CHECK(text == std::string(64, 'a') + " 10\n" + std::string(64, 'b') + " 20\n");
    auto parsed = parseChunkList(text);
    REQUIRE(parsed);
    CHECK(*parsed == std::vector<ChunkRef>{{std::string(64, 'a'), 10}, {std::string(64, 'b'), 20}});
    CHECK(parseChunkList("").error().message == "no chunks");
    CHECK(parseChunkList(text + std::string(64, 'c') + " 0\n").error().message.find("line 3") == 0);
    CHECK(parseChunkList(std::string(64, 'A') + " 1\n").error().message.find("line 1") == 0);
    CHECK(parseChunkList(std::string(64, 'a') + " 1").error().message.find("newline") !=
          std::string::npos);
    CHECK(parseChunkList(std::string(64, 'a') + " 2000000\n").error().message.find("larger") !=
          std::string::npos);
}
