#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "store/BlobStore.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

std::string entry(const std::string& content) {
    return Sha256::hashBuffer(content) + " " + std::to_string(content.size()) + "\n" + content;
}

// Reads a pack held in memory through a real file, as fetchmld does with a spooled upload.
Result<PackStats> readPack(BlobStore& store, const StoreTempDir& tmp, const std::string& pack) {
    std::string path = tmp / "pack.bin";
    writeTestFile(path, pack);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    // The reader starts at offset 0 whatever the descriptor's offset is.
    ::lseek(fd.get(), 7, SEEK_SET);
    return PackReader(store).read(fd.get());
}

std::size_t countEntries(const std::string& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("Pack round trip through a file and a sink", "[store][pack]") {
    StoreTempDir tmp;
    std::string big(Sha256::kChunkBytes + 4321, 'b');
    big[999] = '!';
    std::vector<std::pair<std::string, std::string>> files = {
        {"big", big}, {"empty", ""}, {"small", "small file\n"}, {"copy", "small file\n"}};
    std::vector<PackItem> items;
    for (const auto& [name, content] : files) {
        writeTestFile(tmp / name, content);
        items.push_back({Sha256::hashBuffer(content), tmp / name});
    }
    PackWriter writer(items);
    auto size = writer.packSize();
    REQUIRE(size.ok());
    std::string expected;
    for (const auto& [name, content] : files) {
        expected += entry(content);
    }
    REQUIRE(*size == expected.size());

    std::string viaSink;
    std::size_t calls = 0;
    REQUIRE(writer
                .writeTo([&](std::string_view bytes) -> Result<void> {
                    REQUIRE(bytes.size() <= (1u << 20));
                    viaSink.append(bytes);
                    ++calls;
                    return {};
                })
                .ok());
    REQUIRE(viaSink == expected);
    REQUIRE(calls == 2);  // 1 MiB, then the rest: small entries are batched

    std::string packPath = tmp / "out.pack";
    {
        UniqueFd out(::open(packPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        REQUIRE(PackWriter(items).writeTo(out.get()).ok());
    }
    REQUIRE(readTestFile(packPath) == expected);

    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    auto stats = readPack(*store, tmp, expected);
    REQUIRE(stats.ok());
    REQUIRE(*stats == PackStats{3, 1, big.size() + 0 + 11 + 11});
    for (const auto& [name, content] : files) {
        REQUIRE(readTestFile(store->path(Sha256::hashBuffer(content))) == content);
    }
    auto again = readPack(*store, tmp, expected);
    REQUIRE(again.ok());
    REQUIRE(*again == PackStats{0, 4, big.size() + 22});

    // The empty pack is valid and stores nothing.
    auto none = readPack(*store, tmp, "");
    REQUIRE(none.ok());
    REQUIRE(*none == PackStats{});
}

TEST_CASE("Pack is read from a pipe too", "[store][pack]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::string pack = entry("one") + entry("two");
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], pack.data(), pack.size()) == static_cast<ssize_t>(pack.size()));
    ::close(fds[1]);
    auto stats = PackReader(*store).read(fds[0]);
    ::close(fds[0]);
    REQUIRE(stats.ok());
    REQUIRE(stats->stored == 2);
}

TEST_CASE("Pack with a corrupted blob keeps the blobs verified before it", "[store][pack]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::string first = entry("first blob");
    std::string second = entry("second blob");
    std::string claimed = Sha256::hashBuffer("second blob");
    second[second.size() - 1] = 'X';  // same size, other bytes
    std::string third = entry("third blob");
    auto stats = readPack(*store, tmp, first + second + third);
    REQUIRE_FALSE(stats.ok());
    REQUIRE(stats.error().code == ErrorCode::InvalidArgument);
    const std::string& msg = stats.error().message;
    REQUIRE_THAT(msg, Catch::StartsWith("pack blob 2 at offset " + std::to_string(first.size())));
    REQUIRE_THAT(msg, Catch::Contains(claimed));
    REQUIRE_THAT(msg, Catch::Contains("1 stored"));
    REQUIRE(store->has(Sha256::hashBuffer("first blob")));
    REQUIRE_FALSE(store->has(claimed));
    REQUIRE_FALSE(store->has(Sha256::hashBuffer("third blob")));
    REQUIRE(countEntries(store->tmpDir()) == 0);
}

TEST_CASE("Pack truncated or malformed is refused", "[store][pack]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::string good = entry("good");
    std::string next = entry("next blob content");
    auto errorOf = [&](const std::string& pack) {
        auto stats = readPack(*store, tmp, pack);
        REQUIRE_FALSE(stats.ok());
        REQUIRE(stats.error().code == ErrorCode::InvalidArgument);
        return stats.error().message;
    };
    REQUIRE_THAT(errorOf(good + next.substr(0, next.size() - 3)),
                 Catch::Contains("truncated after 14 of 17 bytes"));
    REQUIRE_THAT(errorOf(good + next.substr(0, 40)),
                 Catch::StartsWith("pack blob 2 at offset " + std::to_string(good.size())) &&
                     Catch::Contains("truncated header"));
    REQUIRE_THAT(errorOf(std::string(500, 'a')), Catch::Contains("longer than 128 bytes"));
    std::string upper = good;
    upper[0] = 'A';
    REQUIRE_THAT(errorOf(upper), Catch::Contains("64 lowercase hex"));
    std::string h = Sha256::hashBuffer("x");
    REQUIRE_THAT(errorOf(h + " 01\nx"), Catch::Contains("leading zeros"));
    REQUIRE_THAT(errorOf(h + " 1 \nx"), Catch::Contains("decimal"));
    REQUIRE_THAT(errorOf(h + "  1\nx"), Catch::Contains("decimal"));
    REQUIRE_THAT(errorOf(h + " 99999999999999999999999\nx"), Catch::Contains("decimal"));
    // A huge announced size is streamed, never allocated: it fails as truncated.
    REQUIRE_THAT(errorOf(h + " 18446744073709551615\nx"), Catch::Contains("truncated after 1"));
    REQUIRE(countEntries(store->tmpDir()) == 0);
}

TEST_CASE("Pack writer refuses files that changed since they were sized", "[store][pack]") {
    StoreTempDir tmp;
    writeTestFile(tmp / "f", "original");
    PackWriter writer({{Sha256::hashBuffer("original"), tmp / "f"}});
    REQUIRE(writer.packSize().ok());
    writeTestFile(tmp / "f", "modified");  // same size, other bytes
    auto r = writer.writeTo([](std::string_view) -> Result<void> { return {}; });
    REQUIRE_FALSE(r.ok());
    REQUIRE_THAT(r.error().message, Catch::Contains("changed"));
    writeTestFile(tmp / "f", "short");
    auto shorter = writer.writeTo([](std::string_view) -> Result<void> { return {}; });
    REQUIRE_FALSE(shorter.ok());

    PackWriter missing({{Sha256::hashBuffer("x"), tmp / "missing"}});
    REQUIRE(missing.packSize().error().code == ErrorCode::NotFound);
    // A sink error stops the writer and is returned as is.
    writeTestFile(tmp / "f", "original");
    PackWriter ok({{Sha256::hashBuffer("original"), tmp / "f"}});
    auto sinkError = ok.writeTo(
        [](std::string_view) -> Result<void> { return makeError(ErrorCode::Busy, "peer gone"); });
    REQUIRE(sinkError.error().message == "peer gone");
}

TEST_CASE("PackWriter reports the content bytes handed on, headers excluded", "[store][pack]") {
    StoreTempDir tmp;
    std::string big((1u << 20) + 10, 'x');
    writeTestFile(tmp / "big", big);
    writeTestFile(tmp / "small", "abc");
    PackWriter writer(
        {{Sha256::hashBuffer(big), tmp / "big"}, {Sha256::hashBuffer("abc"), tmp / "small"}});
    std::vector<std::uint64_t> seen;
    writer.onProgress([&](std::uint64_t bytes) { seen.push_back(bytes); });
    REQUIRE(writer.writeTo([](std::string_view) -> Result<void> { return {}; }).ok());
    REQUIRE(seen.size() >= 3);  // the big file in two reads at least, then the small one
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(seen.back() == big.size() + 3);
}
