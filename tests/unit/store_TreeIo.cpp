#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/BlobStore.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/TreeIo.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

mode_t modeOf(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void buildSource(const StoreTempDir& tmp) {
    writeTestFile(tmp / "src/train.py", "#!/usr/bin/env python3\nprint('hi')\n", 0755);
    writeTestFile(tmp / "src/lib/util.py", "X = 1\n", 0600);
    writeTestFile(tmp / "src/lib/deep/er/data.bin", std::string(3 << 20, 'd'));
    writeTestFile(tmp / "src/lib/also.py", "X = 1\n");  // same blob as util.py
    writeTestFile(tmp / "src/README", "");
    REQUIRE(::symlink("README", (tmp / "src/link").c_str()) == 0);
}

}  // namespace

TEST_CASE("TreeIo ingest then materialize reproduces the tree read-only", "[store][treeio]") {
    StoreTempDir tmp;
    buildSource(tmp);
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    auto manifest = TreeIo::ingest(tmp / "src", *store);
    REQUIRE(manifest.ok());
    REQUIRE(manifest->entries().size() == 5);
    REQUIRE(manifest->skipped().size() == 1);
    REQUIRE(manifest->skipped()[0].path == "link");
    for (const auto& hash : manifest->blobHashes()) {
        REQUIRE(store->has(hash));
    }
    REQUIRE(manifest->blobHashes().size() == 4);

    // Ingesting again stores nothing new and gives the same id.
    auto again = TreeIo::ingest(tmp / "src", *store);
    REQUIRE(again.ok());
    REQUIRE(again->commitId() == manifest->commitId());

    ::umask(077);  // the tree's modes must not depend on the umask
    auto done = TreeIo::materialize(*manifest, *store, tmp / "code");
    ::umask(022);
    REQUIRE(done.ok());
    REQUIRE(modeOf(tmp / "code") == 0755);
    REQUIRE(modeOf(tmp / "code/lib") == 0755);
    REQUIRE(modeOf(tmp / "code/lib/deep/er") == 0755);
    REQUIRE(modeOf(tmp / "code/train.py") == 0555);
    REQUIRE(modeOf(tmp / "code/lib/util.py") == 0444);
    REQUIRE(readTestFile(tmp / "code/lib/deep/er/data.bin") == std::string(3 << 20, 'd'));
    REQUIRE(readTestFile(tmp / "code/train.py") == "#!/usr/bin/env python3\nprint('hi')\n");
    REQUIRE_FALSE(std::filesystem::exists(tmp / "code/link"));

    auto rescanned = Manifest::scan(tmp / "code");
    REQUIRE(rescanned.ok());
    REQUIRE(rescanned->text() == manifest->text());
}

TEST_CASE("TreeIo materialize refuses existing files, missing blobs and symlinked dirs",
          "[store][treeio]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::string content = "payload\n";
    std::string hash = Sha256::hashBuffer(content);
    REQUIRE(store->putBuffer(content, hash).ok());

    auto one = Manifest::fromEntries({{"sub/file", Manifest::kModeFile, content.size(), hash}});
    REQUIRE(one.ok());
    REQUIRE(TreeIo::materialize(*one, *store, tmp / "a").ok());
    auto twice = TreeIo::materialize(*one, *store, tmp / "a");
    REQUIRE_FALSE(twice.ok());
    REQUIRE(twice.error().code == ErrorCode::InvalidArgument);

    // A symbolic link in the target cannot redirect the write elsewhere.
    ::mkdir((tmp / "elsewhere").c_str(), 0755);
    ::mkdir((tmp / "b").c_str(), 0755);
    REQUIRE(::symlink((tmp / "elsewhere").c_str(), (tmp / "b/sub").c_str()) == 0);
    auto redirected = TreeIo::materialize(*one, *store, tmp / "b");
    REQUIRE_FALSE(redirected.ok());
    REQUIRE_FALSE(std::filesystem::exists(tmp / "elsewhere/file"));

    std::string absent = Sha256::hashBuffer("absent");
    auto missing = TreeIo::materialize(
        *Manifest::fromEntries({{"x", Manifest::kModeFile, 6, absent}}), *store, tmp / "c");
    REQUIRE_FALSE(missing.ok());
    REQUIRE(missing.error().code == ErrorCode::NotFound);
    REQUIRE_THAT(missing.error().message, Catch::Contains(absent) && Catch::Contains("x"));

    auto wrongSize = TreeIo::materialize(
        *Manifest::fromEntries({{"x", Manifest::kModeFile, 99, hash}}), *store, tmp / "d");
    REQUIRE_FALSE(wrongSize.ok());
    REQUIRE(wrongSize.error().code == ErrorCode::InvalidArgument);

    // An empty manifest gives an empty directory.
    REQUIRE(TreeIo::materialize(Manifest(), *store, tmp / "e").ok());
    REQUIRE(std::filesystem::is_empty(tmp / "e"));
}

TEST_CASE("TreeIo ingest of a missing directory fails", "[store][treeio]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    auto r = TreeIo::ingest(tmp / "none", *store);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.error().code == ErrorCode::NotFound);
}
