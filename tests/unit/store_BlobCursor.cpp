// Unit tests of BlobCursor: a walk in bounded steps sees every blob once, skips names that are
// not blobs, and allows removing what it returned.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "store/BlobCursor.hpp"
#include "store/BlobStore.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

TEST_CASE("BlobCursor walks every blob once, in steps", "[store][blobcursor][gc]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::set<std::string> stored;
    for (int i = 0; i < 300; ++i) {
        std::string data = "blob " + std::to_string(i);
        std::string hash = Sha256::hashBuffer(data);
        REQUIRE(store->putBuffer(data, hash).ok());
        stored.insert(hash);
    }
    // Not blobs: a stray file in a fan-out directory, a file at the top, a wrong length.
    const std::string first = *stored.begin();
    writeTestFile(tmp / ("store/objects/sha256/" + first.substr(0, 2) + "/notes.txt"), "x");
    writeTestFile(tmp / "store/objects/sha256/README", "x");
    std::filesystem::create_directories(tmp / "store/objects/sha256/zz");
    writeTestFile(tmp / ("store/objects/sha256/zz/" + first.substr(2)), "x");

    BlobCursor cursor(*store);
    std::vector<std::string> seen;
    std::size_t steps = 0;
    for (;;) {
        std::vector<std::string> batch;
        auto n = cursor.next(batch, 7);
        REQUIRE(n.ok());
        CHECK(*n == batch.size());
        CHECK(*n <= 7);
        if (*n == 0) {
            break;
        }
        ++steps;
        for (const auto& hash : batch) {
            // Removing what was just returned does not disturb the walk.
            REQUIRE(::unlink(store->path(hash).c_str()) == 0);
        }
        seen.insert(seen.end(), batch.begin(), batch.end());
    }
    CHECK(steps >= 300 / 7);
    CHECK(seen.size() == stored.size());
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == stored);
    std::vector<std::string> none;
    CHECK(*cursor.next(none, 10) == 0);  // stays over
}

TEST_CASE("BlobCursor over an empty store ends at once", "[store][blobcursor][gc]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    BlobCursor cursor(*store);
    std::vector<std::string> batch;
    auto n = cursor.next(batch, 100);
    REQUIRE(n.ok());
    CHECK(*n == 0);
}
