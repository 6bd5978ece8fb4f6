#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/FastCdc.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"
#include "sys/UniqueFd.hpp"

using namespace fetchml;
using fetchml::testing::randomBytes;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

std::vector<std::string> cutAll(const FastCdc& cdc, const std::string& data) {
    std::vector<std::string> chunks;
    std::size_t at = 0;
    while (at < data.size()) {
        std::size_t len =
            cdc.cut(reinterpret_cast<const unsigned char*>(data.data()) + at, data.size() - at);
        chunks.push_back(data.substr(at, len));
        at += len;
    }
    return chunks;
}

// Bytes of the chunks of after whose content is not among the chunks of before: what a sync
// of after would send to a server holding before.
std::size_t newBytes(const std::vector<std::string>& before,
                     const std::vector<std::string>& after) {
    std::set<std::string> known(before.begin(), before.end());
    std::size_t n = 0;
    for (const auto& c : after) {
        if (known.count(c) == 0) {
            n += c.size();
        }
    }
    return n;
}

FastCdc fileCdc() {
    auto cdc = FastCdc::create(FastCdc::kFileLimits);
    REQUIRE(cdc);
    return *cdc;
}

}  // namespace

TEST_CASE("FastCdc: limits are checked with the limit named", "[store][fastcdc]") {
    CHECK(FastCdc::create({16, 1024, 4096}).error().message.find("min 16") != std::string::npos);
    CHECK(FastCdc::create({1024, 3000, 8192}).error().message.find("normal 3000") !=
          std::string::npos);
    CHECK(FastCdc::create({4096, 1024, 8192}).error().message.find("min < normal < max") !=
          std::string::npos);
    CHECK(FastCdc::create({1024, 4096, 4096}).error().code == ErrorCode::InvalidArgument);
    CHECK(FastCdc::create(FastCdc::kFileLimits));
}

TEST_CASE("FastCdc: the gear table and masks are the documented ones", "[store][fastcdc]") {
    // SHA-256 of the single byte 0x00 is 6e340b9cffb37a98 9ca544e6bb780a2c...
    CHECK(FastCdc::gear()[0] == 0x6e340b9cffb37a98ull);
    // 64 KiB = 2^16: 18 bits before the normal size, 14 after, spread over the high bits.
    FastCdc cdc = fileCdc();
    CHECK(__builtin_popcountll(cdc.maskSmall()) == 18);
    CHECK(__builtin_popcountll(cdc.maskLarge()) == 14);
    CHECK(FastCdc::spreadMask(3) == ((1ull << 63) | (1ull << 47) | (1ull << 31)));
}

TEST_CASE("FastCdc: chunks respect the limits and cover the data", "[store][fastcdc]") {
    FastCdc cdc = fileCdc();
    std::string data = randomBytes(32u << 20, 1);
    auto chunks = cutAll(cdc, data);
    std::size_t total = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        INFO("chunk " << i << " of " << chunks.size());
        CHECK(chunks[i].size() <= FastCdc::kFileLimits.max);
        if (i + 1 < chunks.size()) {
            CHECK(chunks[i].size() > FastCdc::kFileLimits.min);
        }
        total += chunks[i].size();
    }
    CHECK(total == data.size());
    // Normalized chunking keeps the mean near the normal size (random data, fixed seed).
    double mean = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
    INFO("mean chunk " << mean << " bytes");
    CHECK(mean > FastCdc::kFileLimits.normal / 2.0);
    CHECK(mean < FastCdc::kFileLimits.normal * 2.0);
    // A short tail is one chunk.
    CHECK(cdc.cut(reinterpret_cast<const unsigned char*>(data.data()), 1000) == 1000);
}

TEST_CASE("FastCdc: an edit changes only the chunks near it", "[store][fastcdc]") {
    FastCdc cdc = fileCdc();
    const std::string data = randomBytes(48u << 20, 2);
    auto before = cutAll(cdc, data);
    const std::size_t slack = 2 * std::size_t{FastCdc::kFileLimits.max};

    SECTION("inserting bytes does not shift the boundaries after it") {
        std::string edited = data;
        edited.insert(20u << 20, randomBytes(100, 3));
        CHECK(newBytes(before, cutAll(cdc, edited)) <= 100 + slack);
    }
    SECTION("overwriting 1 MiB sends about 1 MiB") {
        std::string edited = data;
        edited.replace(30u << 20, 1u << 20, randomBytes(1u << 20, 4));
        std::size_t sent = newBytes(before, cutAll(cdc, edited));
        INFO("sent " << sent << " bytes for a 1 MiB change");
        CHECK(sent >= (1u << 20));
        CHECK(sent <= (1u << 20) + slack);
    }
    SECTION("deleting bytes does not shift the boundaries after it") {
        std::string edited = data;
        edited.erase(5u << 20, 4096);
        CHECK(newBytes(before, cutAll(cdc, edited)) <= slack);
    }
}

TEST_CASE("chunkFd: hashes every chunk and the whole file in one pass", "[store][fastcdc]") {
    FastCdc cdc = fileCdc();
    StoreTempDir tmp;
    const std::string data = randomBytes((9u << 20) + 12345, 5);
    const std::string path = tmp / "big.bin";
    writeTestFile(path, data);

    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    auto file = chunkFd(fd.get(), cdc);
    REQUIRE(file);
    CHECK(file->size == data.size());
    CHECK(file->sha256 == Sha256::hashBuffer(data));
    auto expected = cutAll(cdc, data);
    REQUIRE(file->chunks.size() == expected.size());
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(file->chunks[i].offset == offset);
        CHECK(file->chunks[i].size == expected[i].size());
        CHECK(file->chunks[i].sha256 == Sha256::hashBuffer(expected[i]));
        offset += expected[i].size();
    }

    SECTION("the same chunks come out of a pipe that delivers small pieces") {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        UniqueFd readEnd(p[0]);
        std::thread writer([w = p[1], &data] {
            std::size_t at = 0;
            while (at < data.size()) {
                ssize_t n =
                    ::write(w, data.data() + at, std::min<std::size_t>(7777, data.size() - at));
                if (n <= 0) {
                    break;
                }
                at += static_cast<std::size_t>(n);
            }
            ::close(w);
        });
        auto piped = chunkFd(readEnd.get(), cdc);
        writer.join();
        REQUIRE(piped);
        CHECK(piped->sha256 == file->sha256);
        REQUIRE(piped->chunks.size() == file->chunks.size());
        for (std::size_t i = 0; i < piped->chunks.size(); ++i) {
            CHECK(piped->chunks[i].sha256 == file->chunks[i].sha256);
        }
    }
    SECTION("an empty file has no chunks") {
        const std::string empty = tmp / "empty";
        writeTestFile(empty, "");
        UniqueFd efd(::open(empty.c_str(), O_RDONLY | O_CLOEXEC));
        auto none = chunkFd(efd.get(), cdc);
        REQUIRE(none);
        CHECK(none->chunks.empty());
        CHECK(none->sha256 == Sha256::hashBuffer(""));
    }
}

TEST_CASE("chunkFdLevels: each chunker's chunks from one read, as chunkFd cuts them",
          "[store][fastcdc]") {
    FastCdc coarse = fileCdc();
    auto fine = FastCdc::create(FastCdc::kDeltaLimits);
    REQUIRE(fine);
    StoreTempDir tmp;
    const std::string data = randomBytes((9u << 20) + 777, 11);
    const std::string path = tmp / "big.bin";
    writeTestFile(path, data);

    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    auto levels = chunkFdLevels(fd.get(), {&coarse, &*fine});
    REQUIRE(levels);
    REQUIRE(levels->size() == 2);
    const FastCdc* cdcs[] = {&coarse, &*fine};
    for (std::size_t k = 0; k < 2; ++k) {
        const ChunkedFile& file = (*levels)[k];
        CHECK(file.size == data.size());
        CHECK(file.sha256 == Sha256::hashBuffer(data));
        auto expected = cutAll(*cdcs[k], data);
        REQUIRE(file.chunks.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            CHECK(file.chunks[i].sha256 == Sha256::hashBuffer(expected[i]));
        }
    }
    // The fine chunks are about four times as many as the coarse ones (8 KiB against 64 KiB
    // normal, normalized chunking keeps both near their normal size).
    CHECK((*levels)[1].chunks.size() > 4 * (*levels)[0].chunks.size());
}
