// ChunkedFiles: which chunks fetchmld can produce, and assembling a file from its chunk list
// or from a delta against its previous version (decisions.md "Chunked files"). Real SQLite
// database, real blob store on disk.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
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

std::vector<FilePart> refs(const std::vector<std::string>& chunks) {
    std::vector<FilePart> out;
    for (const auto& c : chunks) {
        out.push_back(FilePart{Sha256::hashBuffer(c), c.size(), 0});
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

std::int64_t countRows(Database& db, const std::string& file) {
    auto rows = db.prepare("SELECT count(*) FROM file_chunks WHERE file = ?");
    REQUIRE(rows);
    (*rows)->bind(1, file);
    REQUIRE(*(*rows)->step());
    return (*rows)->int64(0);
}

// The file_chunks rows of file: (chunk, offset, size), by offset.
std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> rowsOf(Database& db,
                                                                          const std::string& file) {
    auto stmt =
        db.prepare("SELECT chunk, offset, size FROM file_chunks WHERE file = ? ORDER BY offset");
    REQUIRE(stmt);
    std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> out;
    REQUIRE((*stmt)->bind(1, file).forEachRow([&](const Statement& row) {
        out.emplace_back(row.text(0), static_cast<std::uint64_t>(row.int64(1)),
                         static_cast<std::uint64_t>(row.int64(2)));
    }));
    return out;
}

// A delta of the chunks of next against base as a client builds it: a chunk that is a chunk of
// base becomes a range of base (adjacent ones merged into one range), any other a blob part.
std::vector<FilePart> delta(const std::vector<std::string>& baseChunks,
                            const std::vector<std::string>& next) {
    std::map<std::string, std::uint64_t> at;  // chunk hash -> offset in base
    std::uint64_t offset = 0;
    for (const auto& c : baseChunks) {
        at.emplace(Sha256::hashBuffer(c), offset);
        offset += c.size();
    }
    std::vector<FilePart> out;
    for (const auto& c : next) {
        auto sha = Sha256::hashBuffer(c);
        auto found = at.find(sha);
        if (found == at.end()) {
            out.push_back(FilePart{sha, c.size(), 0});
        } else if (!out.empty() && out.back().fromBase() &&
                   out.back().baseOffset + out.back().size == found->second) {
            out.back().size += c.size();
        } else {
            out.push_back(FilePart{"", c.size(), found->second});
        }
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

TEST_CASE("ChunkedFiles: a delta against the previous version", "[fetchmld][chunks][delta]") {
    Fixture f;
    // v2 is v1 with 50,000 bytes at 2 MiB replaced by 100,000 new ones: what follows moves.
    const std::string v1 = randomBytes(4u << 20, 5);
    const std::string v2 =
        v1.substr(0, 2u << 20) + randomBytes(100000, 6) + v1.substr((2u << 20) + 50000);
    const std::string sha1 = Sha256::hashBuffer(v1);
    const std::string sha2 = Sha256::hashBuffer(v2);
    const auto c1 = cut(v1);
    const auto c2 = cut(v2);
    f.putChunks(c1);
    REQUIRE(f.files.assemble(sha1, v1.size(), refs(c1)));  // v1 stored and its chunks recorded

    const auto parts = delta(c1, c2);
    std::uint64_t sent = 0;
    std::vector<std::string> newChunks;
    for (const auto& c : c2) {
        if (std::find(c1.begin(), c1.end(), c) == c1.end()) {
            newChunks.push_back(c);
            sent += c.size();
        }
    }
    REQUIRE(std::count_if(parts.begin(), parts.end(), [](auto& p) { return p.fromBase(); }) == 2);
    REQUIRE(sent < 100000 + 2 * FastCdc::kFileLimits.max);

    SECTION("it is assembled byte for byte, and v1's ranges are recorded where they moved") {
        f.putChunks(newChunks);
        auto r = f.files.assemble(sha2, v2.size(), parts, sha1);
        REQUIRE(r);
        CHECK(r->stored);
        CHECK(r->fromBlobs == sent);
        CHECK(r->fromFiles == v2.size() - sent);
        CHECK(readBlob(f.store, sha2) == v2);

        // Every chunk of v2 is recorded at its offset in v2: the new ones as blob parts, the
        // others as v1's rows shifted (by 50,000 bytes after the change).
        std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> expected;
        std::uint64_t offset = 0;
        for (const auto& c : c2) {
            expected.emplace_back(Sha256::hashBuffer(c), offset, c.size());
            offset += c.size();
        }
        CHECK(rowsOf(*f.tmp.db, sha2) == expected);
        CHECK(r->chunksIndexed == c2.size());
        const auto& last = expected.back();
        auto lastInV1 = std::find(c1.begin(), c1.end(), c2.back());
        REQUIRE(lastInV1 != c1.end());
        CHECK(std::get<1>(last) == v1.size() - lastInV1->size() + 50000);

        // With the chunk blobs collected and v1 gone, a later full chunk list of v2 needs
        // nothing: v2's own rows produce every chunk.
        for (const auto& c : c1) {
            REQUIRE(f.store.removeIfOlder(Sha256::hashBuffer(c), 1ll << 62, false));
        }
        for (const auto& c : newChunks) {
            REQUIRE(f.store.removeIfOlder(Sha256::hashBuffer(c), 1ll << 62, false));
        }
        REQUIRE(f.store.removeIfOlder(sha1, 1ll << 62, false));
        auto forget = f.tmp.db->prepare("DELETE FROM file_chunks WHERE file = ?");
        REQUIRE(forget);
        REQUIRE((*forget)->bind(1, sha1).run());
        auto missing = f.files.missing(hashes(c2));
        REQUIRE(missing);
        CHECK(missing->empty());
    }
    SECTION("a base that is not stored is NotFound, and nothing is stored") {
        f.putChunks(newChunks);
        const std::string other = Sha256::hashBuffer("not stored");
        auto r = f.files.assemble(sha2, v2.size(), parts, other);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::NotFound);
        CHECK(r.error().message == "base: blob " + other + " is not stored");
        CHECK_FALSE(f.store.has(sha2));
        auto bad = f.files.assemble(sha2, v2.size(), parts, "v1");
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == ErrorCode::InvalidArgument);
        CHECK(bad.error().message.find("base: 'v1'") == 0);
    }
    SECTION("a range outside the base is refused, and nothing is stored") {
        f.putChunks(newChunks);
        auto list = parts;
        std::size_t line = 0;
        while (!list[line].fromBase() || list[line].baseOffset == 0) {
            ++line;
        }
        list[line].baseOffset = v1.size() - list[line].size + 1;
        auto r = f.files.assemble(sha2, v2.size(), list, sha1);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK(r.error().message == "chunks: line " + std::to_string(line + 1) + ": bytes " +
                                       std::to_string(list[line].baseOffset) + ".." +
                                       std::to_string(v1.size() + 1) + " are outside the base's " +
                                       std::to_string(v1.size()) + " bytes");
        CHECK_FALSE(f.store.has(sha2));
        CHECK(countRows(*f.tmp.db, sha2) == 0);
    }
    SECTION("a range of the right size but the wrong bytes fails the hash; nothing is kept") {
        f.putChunks(newChunks);
        auto list = parts;
        REQUIRE(list.front().fromBase());
        list.front().baseOffset += 1;
        auto r = f.files.assemble(sha2, v2.size(), list, sha1);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK(r.error().message.find("content hashes to") != std::string::npos);
        CHECK_FALSE(f.store.has(sha2));
        CHECK(countRows(*f.tmp.db, sha2) == 0);
    }
    SECTION("a range without a base is refused") {
        f.putChunks(newChunks);
        auto r = f.files.assemble(sha2, v2.size(), parts);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK(r.error().message == "chunks: line 1: a base range needs \"base\"");
        CHECK_FALSE(f.store.has(sha2));
    }
    SECTION("sizes that do not add up are refused") {
        f.putChunks(newChunks);
        auto r = f.files.assemble(sha2, v2.size() + 1, parts, sha1);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("sizes add up to") != std::string::npos);
    }
    SECTION("an already stored file: its blob parts are checked and recorded, ranges skipped") {
        REQUIRE(f.store.putBuffer(v2, sha2));
        for (const auto& c : c1) {  // not even the base is needed
            REQUIRE(f.store.removeIfOlder(Sha256::hashBuffer(c), 1ll << 62, false));
        }
        REQUIRE(f.store.removeIfOlder(sha1, 1ll << 62, false));
        auto r = f.files.assemble(sha2, v2.size(), parts, sha1);
        REQUIRE(r);
        CHECK_FALSE(r->stored);
        CHECK(r->fromBlobs == 0);
        CHECK(r->fromFiles == 0);
        CHECK(r->chunksIndexed == newChunks.size());
        std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> expected;
        std::uint64_t offset = 0;
        for (const auto& p : parts) {
            if (!p.fromBase()) {
                expected.emplace_back(p.sha256, offset, p.size);
            }
            offset += p.size;
        }
        CHECK(rowsOf(*f.tmp.db, sha2) == expected);

        auto wrong = parts;
        auto blob = std::find_if(wrong.begin(), wrong.end(), [](auto& p) { return !p.fromBase(); });
        REQUIRE(blob != wrong.end());
        blob->sha256 = Sha256::hashBuffer("other");
        auto bad = f.files.assemble(sha2, v2.size(), wrong, sha1);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message.find("hash to") != std::string::npos);
    }
}

TEST_CASE("ChunkedFiles: missingBases", "[fetchmld][chunks][delta]") {
    Fixture f;
    const std::string stored = Sha256::hashBuffer("base");
    const std::string absent = Sha256::hashBuffer("absent");
    REQUIRE(f.store.putBuffer("base", stored));
    auto r = f.files.missingBases({absent, stored, absent});
    REQUIRE(r);
    CHECK(*r == std::vector<std::string>{absent});
    CHECK(f.files.missingBases({})->empty());
    auto bad = f.files.missingBases({stored, "XYZ"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
    CHECK(bad.error().message == "bases: 'XYZ' is not a SHA-256 hex digest");
}

TEST_CASE("file parts: text form round trip and errors by line", "[store][chunks][delta]") {
    const std::string a(64, 'a');
    std::vector<FilePart> parts{{"", 100, 0}, {a, 20, 0}, {"", 5, 18446744073709551610ull}};
    auto text = formatFileParts(parts);
    CHECK(text == "= 0 100\n" + a + " 20\n= 18446744073709551610 5\n");
    auto parsed = parseFileParts(text);
    REQUIRE(parsed);
    CHECK(*parsed == parts);
    // A chunk list is a part list.
    auto chunks = parseFileParts(a + " 10\n" + std::string(64, 'b') + " 1048576\n");
    REQUIRE(chunks);
    CHECK(*chunks == std::vector<FilePart>{{a, 10, 0}, {std::string(64, 'b'), 1048576, 0}});

    auto error = [](const std::string& t) {
        auto r = parseFileParts(t);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        return r.error().message;
    };
    CHECK(error("") == "no chunks");
    CHECK(error(text + "= 5 0\n") == "line 4: a base range of 0 bytes");
    CHECK(error("= 18446744073709551615 1\n").find("line 1: base range") == 0);
    CHECK(error("= 18446744073709551615 1\n").find("overflows 64 bits") != std::string::npos);
    CHECK(error("= 18446744073709551616 1\n").find("line 1: offset") == 0);
    CHECK(error("= 01 5\n").find("line 1: offset '01'") == 0);
    CHECK(error("= 1 -5\n").find("line 1: length '-5'") == 0);
    CHECK(error("= 1 5 6\n").find("line 1: length") == 0);
    CHECK(error("= 15\n") == "line 1: expected '= <offset> <length>'");
    CHECK(error("=1 5\n").find("line 1: expected") == 0);
    CHECK(error("= 1 5").find("newline") != std::string::npos);
    CHECK(error(a + " 0\n").find("line 1: size") == 0);
    CHECK(error(a + " 2000000\n").find("larger") != std::string::npos);
    CHECK(error(std::string(64, 'A') + " 1\n").find("line 1: ") == 0);
    CHECK(parseFileParts("= 0 18446744073709551615\n"));
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
