// `fetchmlctl sync` end to end: the real fetchmlctl binary against a real fetchmld (and
// fetchml-httpsd) on a private D-Bus system bus. Only the blobs the server lacks are sent; a
// tree over 64 MiB of file data goes in several packs; and a sync whose second pack is
// refused (by the edge's https.max_body_bytes) leaves the first pack's blobs stored, so the
// next sync sends only the rest. A file over 8 MiB goes as content-defined chunks, so a change
// inside it sends about the changed bytes: as a delta against the version sent before, or,
// when the server cannot use that delta, as its full chunk list.

#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "store/Sha256.hpp"
#include "support/EdgeStack.hpp"
#include "support/Support.hpp"

using namespace fetchml::test;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

struct Fixture {
    explicit Fixture(std::string edgeConfig = "") : stack(true, std::move(edgeConfig)) {
        mkdir(stack.tmp.sub("exp").c_str(), 0755);
        mkdir(stack.tmp.sub("xdg").c_str(), 0755);
        auto alice = stack.client->AddUser({{"name", sdbus::Variant(std::string("alice"))},
                                            {"role", sdbus::Variant(std::string("researcher"))}});
        aliceKey = alice.at("api_key").get<std::string>();
    }

    CommandResult local(std::vector<std::string> args) const {
        return stack.ctlLocal(std::move(args));
    }
    CommandResult remote(std::vector<std::string> args) const {
        return stack.ctlRemote(std::move(args), aliceKey);
    }
    /// `sync DIR --json` through `how` (local or remote); the summary, after checking success.
    json syncJson(bool overHttps) const {
        std::vector<std::string> args{"sync", exp(), "--json"};
        auto result = overHttps ? remote(args) : local(args);
        INFO(result.out << result.err);
        REQUIRE(result.exitCode == 0);
        // stderr is not a terminal here: no progress line.
        CHECK(result.err.find('\r') == std::string::npos);
        return json::parse(result.out);
    }
    std::string exp() const { return stack.tmp.sub("exp"); }
    std::string file(const std::string& name) const { return stack.tmp.sub("exp/" + name); }
    /// The hashes of `hashes` that fetchmld's store lacks.
    std::vector<std::string> missing(const std::vector<std::string>& hashes) const {
        auto answer = stack.client->MissingBlobs({{"hashes", sdbus::Variant(hashes)}});
        return answer.at("missing").get<std::vector<std::string>>();
    }

    Stack stack;
    std::string aliceKey;
};

/// size bytes that differ from every other seed's: a 1 MiB block, varied by seed, repeated.
std::string distinctBytes(std::uint64_t size, unsigned seed) {
    std::string block(kMiB, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) {
        block[i] = static_cast<char>((i * 131 + seed * 7919 + (i >> 12) * seed) & 0xff);
    }
    block.replace(0, 16, "seed " + std::to_string(seed) + std::string(16, ' '), 0, 16);
    std::string out;
    out.reserve(size);
    while (out.size() < size) {
        out.append(block, 0, std::min<std::uint64_t>(block.size(), size - out.size()));
    }
    return out;
}

/// size bytes of a pseudo-random stream (no repeated blocks, so no chunk repeats).
std::string randomBytes(std::uint64_t size, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string out(size, '\0');
    for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
        std::uint64_t v = rng();
        std::memcpy(out.data() + i, &v, 8);
    }
    return out;
}

}  // namespace

TEST_CASE("sync sends only what the server lacks", "[ctl][sync]") {
    Fixture f;
    const std::string model = distinctBytes(3 * kMiB + 17, 1);
    writeFile(f.file("train.py"), "print('hello')\n");
    writeFile(f.file("model.bin"), model);
    mkdir(f.file("data").c_str(), 0755);
    writeFile(f.file("data/a.csv"), "x,y\n1,2\n");
    writeFile(f.file("data/same.csv"), "x,y\n1,2\n");  // the same blob as data/a.csv
    const std::uint64_t tree = 15 + model.size() + 8 + 8;
    const std::uint64_t distinct = 15 + model.size() + 8;

    // First sync: every distinct blob goes, in one pack.
    auto first = f.syncJson(false);
    INFO(first.dump());
    CHECK(first["files"] == 4);
    CHECK(first["bytes"] == tree);
    CHECK(first["blobs_missing"] == 3);
    CHECK(first["blobs_sent"] == 3);
    CHECK(first["bytes_sent"] == distinct);
    CHECK(first["packs"] == 1);
    CHECK(first["seconds"].get<double>() >= 0);
    const std::string commit = first["commit"].get<std::string>();
    REQUIRE(commit.size() == 64);
    auto recorded = f.stack.client->GetManifest({{"commit", sdbus::Variant(commit)}});
    CHECK(fetchml::Sha256::hashBuffer(recorded.at("manifest").get<std::string>()) == commit);

    // Without --json: the commit id alone on one line.
    auto plain = f.local({"sync", f.exp()});
    INFO(plain.err);
    REQUIRE(plain.exitCode == 0);
    CHECK(plain.out == commit + "\n");

    // The unchanged tree again, over D-Bus and over HTTPS: nothing is sent.
    for (bool overHttps : {false, true}) {
        auto again = f.syncJson(overHttps);
        INFO(again.dump());
        CHECK(again["commit"] == commit);
        CHECK(again["blobs_missing"] == 0);
        CHECK(again["blobs_sent"] == 0);
        CHECK(again["bytes_sent"] == 0);
        CHECK(again["packs"] == 0);
        CHECK(again["bytes"] == tree);
    }

    // One file changes: only its bytes go (over HTTPS this time).
    const std::string changed = distinctBytes(2 * kMiB + 5, 2);
    writeFile(f.file("model.bin"), changed);
    auto third = f.syncJson(true);
    INFO(third.dump());
    CHECK(third["commit"] != commit);
    CHECK(third["blobs_sent"] == 1);
    CHECK(third["bytes_sent"] == changed.size());
    CHECK(third["packs"] == 1);
    CHECK(third["bytes"] == tree - model.size() + changed.size());

    // On a terminal (script(1) gives the command a pseudo-terminal) a progress line shows
    // the bytes and files sent, rewritten with '\r' and ended before the commit id.
    writeFile(f.file("model.bin"), distinctBytes(4 * kMiB, 3));
    writeFile(f.file("notes.txt"), "new\n");
    auto onTty = run(
        {"script", "-q", "-e", "-c", binaryPath("fetchmlctl") + " sync " + f.exp(), "/dev/null"},
        {f.stack.busEnv(),
         "FETCHML_SERVER=", "FETCHML_API_KEY=", "XDG_CONFIG_HOME=" + f.stack.tmp.sub("xdg")});
    INFO(onTty.out << onTty.err);
    REQUIRE(onTty.exitCode == 0);
    CHECK(onTty.out.find("\rsent ") != std::string::npos);
    CHECK(onTty.out.find("of 4.0 MiB, 2 of 2 files") != std::string::npos);
    writeFile(f.file("model.bin"), changed);  // back to the tree of the third sync
    ::unlink(f.file("notes.txt").c_str());

    // A queue of the synced tree is one call that the server accepts at once.
    auto queued = f.local({"queue", f.exp(), "--", "python3", "train.py"});
    INFO(queued.out << queued.err);
    REQUIRE(queued.exitCode == 0);
    auto job = f.stack.client->GetJob({{"id", sdbus::Variant(queued.out.substr(0, 7))}});
    CHECK(job.at("commit").get<std::string>() == third["commit"].get<std::string>());

    // Errors name what was wrong: a directory that does not exist.
    auto absent = f.local({"sync", f.stack.tmp.sub("nowhere")});
    CHECK(absent.exitCode == 1);
    CHECK(absent.err.find("nowhere") != std::string::npos);
}

TEST_CASE("a tree over 64 MiB of file data goes in several packs", "[ctl][sync]") {
    Fixture f;
    std::vector<std::string> hashes;
    for (unsigned i = 0; i < 3; ++i) {
        std::string bytes = randomBytes(30 * kMiB, 10 + i);
        hashes.push_back(fetchml::Sha256::hashBuffer(bytes));
        writeFile(f.file("part" + std::to_string(i) + ".bin"), bytes);
    }
    // Over HTTPS: each pack is its own request, well under https.max_body_bytes. The files are
    // over 8 MiB, so they go as chunks: 64 MiB of them, then the other 26 MiB.
    auto first = f.syncJson(true);
    INFO(first.dump());
    CHECK(first["packs"] == 2);
    CHECK(first["chunked_files"] == 3);
    CHECK(first["blobs_sent"].get<std::uint64_t>() > 3 * 30 * kMiB / (256 << 10));
    CHECK(first["bytes_sent"] == 90 * kMiB);
    CHECK(first["bytes_reused"] == 0);
    CHECK(first["bytes"] == 90 * kMiB);
    // The files themselves are stored (assembled from their chunks).
    CHECK(f.missing(hashes).empty());

    auto again = f.syncJson(false);
    CHECK(again["packs"] == 0);
    CHECK(again["bytes_sent"] == 0);
    CHECK(again["chunked_files"] == 0);
}

TEST_CASE("a change inside a large file sends about the changed bytes", "[ctl][sync]") {
    Fixture f;
    std::string big = randomBytes(40 * kMiB, 31);
    writeFile(f.file("weights.bin"), big);
    writeFile(f.file("train.py"), "print('hi')\n");
    auto first = f.syncJson(false);
    INFO(first.dump());
    CHECK(first["chunked_files"] == 1);
    CHECK(first["delta_files"] == 0);  // the client knows no earlier version
    CHECK(first["bytes_sent"] == big.size() + 12);

    // Overwrite 1 MiB in the middle, over HTTPS and over D-Bus in turn: each goes as a delta
    // against the version sent before (issue 6: bytes sent within 10% of the changed bytes).
    for (bool overHttps : {true, false}) {
        const std::uint64_t at = overHttps ? 17 * kMiB + 12345 : 29 * kMiB + 777;
        big.replace(at, kMiB, randomBytes(kMiB, overHttps ? 32 : 33));
        writeFile(f.file("weights.bin"), big);
        auto changed = f.syncJson(overHttps);
        INFO(changed.dump());
        CHECK(changed["chunked_files"] == 1);
        CHECK(changed["delta_files"] == 1);
        const auto sent = changed["bytes_sent"].get<std::uint64_t>();
        CHECK(sent >= kMiB);
        CHECK(sent <= kMiB + kMiB / 10);
        CHECK(changed["bytes_reused"] == big.size() - sent);
        // The part list and the hashes asked about are a few lines, not one per chunk.
        CHECK(changed["chunk_list_bytes"].get<std::uint64_t>() < 2048);

        // The server's copy is the new file, byte for byte.
        const std::string sha = fetchml::Sha256::hashBuffer(big);
        CHECK(f.missing({sha}).empty());
        auto blob = f.stack.client->OpenBlob({{"hash", sdbus::Variant(sha)}});
        auto stored = fetchml::Sha256::hashFd(blob.get());
        REQUIRE(stored);
        CHECK(*stored == sha);
    }
}

TEST_CASE("a delta the server cannot use falls back to the full chunk list", "[ctl][sync]") {
    Fixture f;
    std::string big = randomBytes(20 * kMiB, 41);
    writeFile(f.file("data.bin"), big);
    auto first = f.syncJson(false);
    REQUIRE(first["chunked_files"] == 1);
    // The chunk cache entry of data.bin (ctl/ChunkCache.hpp): one file per tree path.
    char* real = ::realpath(f.exp().c_str(), nullptr);
    REQUIRE(real != nullptr);
    std::string key = std::string(real) + '\0' + "data.bin";
    std::free(real);
    const std::string entry = std::string(std::getenv("XDG_CACHE_HOME")) + "/fetchml/chunks/" +
                              fetchml::Sha256::hashBuffer(key) + ".fine";
    const std::string cached = readFile(entry);
    REQUIRE(cached.rfind("fetchml-fine-chunks 1\nfile " + fetchml::Sha256::hashBuffer(big), 0) ==
            0);

    auto changeAndSync = [&](unsigned seed) {
        big.replace(5 * kMiB, kMiB, randomBytes(kMiB, seed));
        writeFile(f.file("data.bin"), big);
        auto changed = f.syncJson(false);
        INFO(changed.dump());
        const std::string sha = fetchml::Sha256::hashBuffer(big);
        auto blob = f.stack.client->OpenBlob({{"hash", sdbus::Variant(sha)}});
        auto stored = fetchml::Sha256::hashFd(blob.get());
        REQUIRE(stored);
        CHECK(*stored == sha);
        return changed;
    };
    SECTION("the base is a version the server never stored") {
        std::string foreign = cached;
        foreign.replace(foreign.find("file ") + 5, 64, std::string(64, 'a'));
        writeFile(entry, foreign);
        auto changed = changeAndSync(42);
        CHECK(changed["chunked_files"] == 1);
        CHECK(changed["delta_files"] == 0);
        // Only the chunks around the change went: the full list found the rest on the server.
        CHECK(changed["bytes_sent"].get<std::uint64_t>() <= kMiB + 2 * (256 << 10));
    }
    SECTION("the cached chunks are not the base's (two swapped): the server refuses the file") {
        std::string wrong = cached;
        const std::size_t line1 = wrong.find('\n', wrong.find("file ")) + 1;
        const std::size_t line2 = wrong.find('\n', line1) + 1;
        const std::size_t line3 = wrong.find('\n', line2) + 1;
        std::string a = wrong.substr(line1, line2 - line1);
        std::string b = wrong.substr(line2, line3 - line2);
        REQUIRE(a != b);
        wrong.replace(line1, line3 - line1, b + a);
        writeFile(entry, wrong);
        auto changed = changeAndSync(43);
        CHECK(changed["chunked_files"] == 1);
        CHECK(changed["delta_files"] == 0);
    }
    SECTION("a damaged entry is not used") {
        writeFile(entry, cached.substr(0, cached.size() / 2));
        auto changed = changeAndSync(44);
        CHECK(changed["delta_files"] == 0);
    }
    // Each way, the entry now describes the version just sent, and the next change is a delta.
    auto next = changeAndSync(45);
    CHECK(next["delta_files"] == 1);
    CHECK(next["bytes_sent"].get<std::uint64_t>() <= kMiB + kMiB / 10);
}

TEST_CASE("an interrupted sync resumes without resending stored blobs", "[ctl][sync]") {
    // The edge accepts at most 40 MiB a request: the first pack (three 5 MiB files) goes, the
    // second (the 50 MiB b.bin, as chunks) is refused, so the sync fails halfway.
    Fixture f("  max_body_bytes: 41943040\n");
    std::vector<std::string> small;
    std::vector<std::string> hashes;
    for (unsigned i = 0; i < 3; ++i) {
        small.push_back(distinctBytes(5 * kMiB, 21 + i));
        writeFile(f.file("a" + std::to_string(i) + ".bin"), small.back());
        hashes.push_back(fetchml::Sha256::hashBuffer(small.back()));
    }
    const std::string b = randomBytes(50 * kMiB, 24);
    writeFile(f.file("b.bin"), b);
    hashes.push_back(fetchml::Sha256::hashBuffer(b));
    const std::uint64_t total = 15 * kMiB + b.size();

    auto failed = f.remote({"sync", f.exp(), "--json"});
    INFO(failed.out << failed.err);
    CHECK(failed.exitCode != 0);
    CHECK(failed.out.empty());
    // The message says which pack failed, what it holds and what the server said.
    CHECK(failed.err.find("sending pack 2 of 2 (") != std::string::npos);
    CHECK(failed.err.find("chunks of b.bin") != std::string::npos);
    // The first pack's blobs are stored; b.bin is not, nor is the commit.
    CHECK(f.missing(hashes) == std::vector<std::string>{hashes[3]});

    // The next sync (over D-Bus, which has no body limit) sends only what is missing.
    auto resumed = f.syncJson(false);
    INFO(resumed.dump());
    CHECK(resumed["chunked_files"] == 1);
    CHECK(resumed["bytes_sent"] == b.size());
    CHECK(resumed["bytes"] == total);
    CHECK(resumed["packs"] == 1);
    CHECK(f.missing(hashes).empty());

    // And now over HTTPS nothing needs to go, so the body limit does not matter.
    auto after = f.syncJson(true);
    CHECK(after["commit"] == resumed["commit"]);
    CHECK(after["bytes_sent"] == 0);
}
