// Unit tests of datasets in fetchmld (DatasetStore, DatasetCheckouts) on a temporary database
// and store: names and NAME@VERSION references, numbered immutable versions whose numbers are
// never reused, a version only of a recorded tree, resolution of a job's request to the exact
// version, and the read-only copy a job mounts.
#include <fcntl.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "DatasetCheckouts.hpp"
#include "DatasetStore.hpp"
#include "JobStore.hpp"
#include "fetchmld_TempDb.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;
namespace fs = std::filesystem;

namespace {

struct Data {
    Data() : store(*BlobStore::create(t.dir + "/store")), jobs(*t.db), datasets(*t.db) {}

    /// Stores files {path: content} and records their tree; returns the tree's id and
    /// manifest text.
    std::pair<std::string, std::string> tree(const std::map<std::string, std::string>& files) {
        std::vector<ManifestEntry> entries;
        for (const auto& [path, content] : files) {
            std::string hash = Sha256::hashBuffer(content);
            REQUIRE(store.putBuffer(content, hash).ok());
            entries.push_back(ManifestEntry{path, Manifest::kModeFile, content.size(), hash});
        }
        auto manifest = Manifest::fromEntries(entries);
        REQUIRE(manifest.ok());
        REQUIRE(jobs.putCommit(manifest->commitId(), manifest->text(), "commit", "alice").ok());
        return {manifest->commitId(), manifest->text()};
    }

    TempDb t;
    BlobStore store;
    JobStore jobs;
    DatasetStore datasets;
};

}  // namespace

TEST_CASE("dataset names and NAME@VERSION references", "[fetchmld][data]") {
    for (const std::string& good : std::vector<std::string>{"mnist", "MNIST", "imdb-reviews_2.v3",
                                                            "0", std::string(64, 'a')}) {
        INFO(good);
        CHECK(isDatasetName(good));
    }
    for (const std::string& bad : std::vector<std::string>{
             "", ".hidden", "-x", "_x", "a/b", "..", "a b", "a@b", "a:b", std::string(65, 'a')}) {
        INFO(bad);
        CHECK_FALSE(isDatasetName(bad));
    }
    auto latest = parseDatasetRef("mnist", "data");
    REQUIRE(latest.ok());
    CHECK(latest->name == "mnist");
    CHECK(latest->version == 0);
    auto exact = parseDatasetRef("mnist@12", "data");
    REQUIRE(exact.ok());
    CHECK(exact->version == 12);
    for (const char* bad : {"mnist@", "mnist@0", "mnist@-1", "mnist@+1", "mnist@1x", "mnist@1@2",
                            "@3", "../x@1", "mnist@99999999999999999999"}) {
        INFO(bad);
        auto ref = parseDatasetRef(bad, "data");
        REQUIRE_FALSE(ref.ok());
        CHECK(ref.error().code == ErrorCode::InvalidArgument);
        CHECK(ref.error().message.rfind("data: ", 0) == 0);
    }
}

TEST_CASE("dataset versions: numbered, immutable, never reused", "[fetchmld][data]") {
    Data d;
    const auto [tree1, text1] = d.tree({{"train.csv", "1,2\n"}, {"test.csv", "3\n"}});
    const auto [tree2, text2] = d.tree({{"train.csv", "1,2\n5,6\n"}, {"test.csv", "3\n"}});

    auto first = d.datasets.add("mnist", tree1, "alice");
    REQUIRE(first.ok());
    CHECK(first->second);
    CHECK(first->first.version == 1);
    CHECK(first->first.files == 2);
    CHECK(first->first.bytes == 6);
    CHECK(*d.datasets.owner("mnist") == std::optional<std::string>("alice"));

    // The same tree again adds nothing.
    auto same = d.datasets.add("mnist", tree1, "bob");
    REQUIRE(same.ok());
    CHECK_FALSE(same->second);
    CHECK(same->first.version == 1);

    auto second = d.datasets.add("mnist", tree2, "bob");
    REQUIRE(second.ok());
    CHECK(second->second);
    CHECK(second->first.version == 2);
    CHECK(second->first.user == "bob");
    CHECK(*d.datasets.owner("mnist") == std::optional<std::string>("alice"));

    // Only recorded trees; only valid names.
    auto unknown = d.datasets.add("mnist", std::string(64, 'e'), "alice");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == ErrorCode::NotFound);
    CHECK(unknown.error().message.rfind("tree: ", 0) == 0);
    auto badName = d.datasets.add("../etc", tree1, "alice");
    REQUIRE_FALSE(badName.ok());
    CHECK(badName.error().message.rfind("name: ", 0) == 0);

    auto list = d.datasets.list();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK(list->front().versionCount == 2);
    CHECK(list->front().versions.front().version == 2);

    // A job's request resolves to the exact version and tree.
    auto latest = d.datasets.resolve(DataRef{"mnist", 0, ""});
    REQUIRE(latest.ok());
    CHECK(*latest == DataRef{"mnist", 2, tree2});
    auto pinned = d.datasets.resolve(DataRef{"mnist", 1, ""});
    REQUIRE(pinned.ok());
    CHECK(*pinned == DataRef{"mnist", 1, tree1});
    auto absent = d.datasets.resolve(DataRef{"mnist", 3, ""});
    REQUIRE_FALSE(absent.ok());
    CHECK(absent.error().code == ErrorCode::NotFound);
    CHECK(absent.error().message == "data: mnist@3 does not exist");

    // Removing the latest version makes the one before it the latest.
    auto removed = d.datasets.remove(DatasetRef{"mnist", 2});
    REQUIRE(removed.ok());
    REQUIRE(removed->versions.size() == 1);
    CHECK(removed->versions.front().tree == tree2);
    CHECK(d.datasets.resolve(DataRef{"mnist", 0, ""})->version == 1);

    // Removing the dataset keeps its numbering: the next version is 3, so "mnist@1" and
    // "mnist@2" never name another tree.
    REQUIRE(d.datasets.remove(DatasetRef{"mnist", 0}).ok());
    CHECK(d.datasets.list()->empty());
    CHECK(d.datasets.get(DatasetRef{"mnist", 0}).error().code == ErrorCode::NotFound);
    auto again = d.datasets.add("mnist", tree1, "alice");
    REQUIRE(again.ok());
    CHECK(again->second);
    CHECK(again->first.version == 3);
}

TEST_CASE("a dataset version is copied once, read-only, for the jobs that mount it",
          "[fetchmld][data]") {
    Data d;
    const auto [tree, text] = d.tree({{"a/train.csv", "1,2\n"}, {"b.txt", "b\n"}});
    const std::string runs = d.t.dir + "/runs";
    fs::create_directories(runs);
    DatasetCheckouts checkouts(runs, d.store);
    auto dir = checkouts.ensure(tree, text);
    REQUIRE(dir.ok());
    CHECK(*dir == runs + "/datasets/" + tree);
    std::ifstream in(*dir + "/a/train.csv");
    std::string line;
    std::getline(in, line);
    CHECK(line == "1,2");
    struct stat st {};
    REQUIRE(::stat((*dir + "/a/train.csv").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0444);
    // A second job reuses the copy; no temporary directory is left.
    REQUIRE(::utimensat(AT_FDCWD, (*dir + "/b.txt").c_str(), nullptr, 0) == 0);
    auto again = checkouts.ensure(tree, text);
    REQUIRE(again.ok());
    CHECK(*again == *dir);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(runs + "/datasets")) {
        ++entries;
    }
    CHECK(entries == 1);

    // A blob missing from the store leaves no copy behind.
    const std::string lost = Sha256::hashBuffer("not stored");
    auto broken = Manifest::fromEntries({ManifestEntry{"x", Manifest::kModeFile, 10, lost}});
    REQUIRE(broken.ok());
    auto failed = checkouts.ensure(broken->commitId(), broken->text());
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == ErrorCode::NotFound);
    CHECK_FALSE(fs::exists(runs + "/datasets/" + broken->commitId()));

    // Copies nothing keeps go; kept ones stay.
    std::vector<std::string> left;
    CHECK(DatasetCheckouts::removeExcept(runs, {tree}, left) == 0);
    CHECK(fs::exists(*dir));
    CHECK(DatasetCheckouts::removeExcept(runs, {}, left) == 1);
    CHECK_FALSE(fs::exists(*dir));
    CHECK(left.empty());
}
