// How `fetchmlctl sync` splits the blobs a server lacks into packs (TreeSync.hpp).

#include <catch2/catch.hpp>

#include "TreeSync.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;
using namespace fetchml::ctl;

namespace {

std::string hashOf(char c) {
    return std::string(64, c);
}

Manifest manifestOf(const std::vector<std::pair<std::string, std::uint64_t>>& files,
                    const std::vector<char>& hashes) {
    std::vector<ManifestEntry> entries;
    for (std::size_t i = 0; i < files.size(); ++i) {
        entries.push_back(
            ManifestEntry{files[i].first, Manifest::kModeFile, files[i].second, hashOf(hashes[i])});
    }
    auto manifest = Manifest::fromEntries(std::move(entries));
    REQUIRE(manifest.ok());
    return *manifest;
}

std::vector<std::vector<std::string>> paths(const std::vector<PackPlan>& packs) {
    std::vector<std::vector<std::string>> out;
    for (const auto& pack : packs) {
        out.emplace_back();
        for (const auto& blob : pack.blobs) {
            out.back().push_back(blob.path);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("packs hold at most maxPackBytes of file data, in manifest order", "[ctl][sync]") {
    auto m = manifestOf({{"a", 30}, {"b", 30}, {"c", 30}, {"d", 5}}, {'a', 'b', 'c', 'd'});
    auto packs = planPacks(m, {hashOf('a'), hashOf('b'), hashOf('c'), hashOf('d')}, 64);
    CHECK(paths(packs) == std::vector<std::vector<std::string>>{{"a", "b"}, {"c", "d"}});
    CHECK(packs[0].bytes == 60);
    CHECK(packs[1].bytes == 35);
    // Exactly the limit still fits.
    CHECK(planPacks(m, {hashOf('a'), hashOf('b')}, 60).size() == 1);
}

TEST_CASE("a file larger than a pack is a pack of its own", "[ctl][sync]") {
    auto m = manifestOf({{"a", 10}, {"big", 100}, {"c", 10}}, {'a', 'b', 'c'});
    auto packs = planPacks(m, {hashOf('a'), hashOf('b'), hashOf('c')}, 64);
    CHECK(paths(packs) == std::vector<std::vector<std::string>>{{"a"}, {"big"}, {"c"}});
    CHECK(packs[1].bytes == 100);
}

TEST_CASE("only missing blobs are planned, each once", "[ctl][sync]") {
    // "b" and "c" share a hash; "a" is already stored; "z" is not in the manifest.
    auto m = manifestOf({{"a", 1}, {"b", 2}, {"c", 2}, {"d", 3}}, {'a', 'b', 'b', 'd'});
    auto packs = planPacks(m, {hashOf('d'), hashOf('b'), hashOf('z')});
    CHECK(paths(packs) == std::vector<std::vector<std::string>>{{"b", "d"}});
    CHECK(packs[0].bytes == 5);
    CHECK(planPacks(m, {}).empty());
}

TEST_CASE("the stat caches live under XDG_CACHE_HOME, else ~/.cache", "[ctl][sync]") {
    CHECK(statCacheDir("/x/cache", "/home/a") == "/x/cache/fetchml/trees");
    // A relative XDG_CACHE_HOME is invalid (XDG Base Directory) and ignored, as is an empty one.
    CHECK(statCacheDir("cache", "/home/a") == "/home/a/.cache/fetchml/trees");
    CHECK(statCacheDir("", "/home/a") == "/home/a/.cache/fetchml/trees");
    CHECK(statCacheDir(nullptr, "/home/a") == "/home/a/.cache/fetchml/trees");
    CHECK(statCacheDir(nullptr, nullptr).empty());
    CHECK(statCacheDir(nullptr, "").empty());
    // One file per tree, named by the hash of its absolute path.
    const std::string a = statCacheFile("/c", "/home/a/exp");
    CHECK(a == "/c/" + Sha256::hashBuffer("/home/a/exp") + ".cache");
    CHECK(a != statCacheFile("/c", "/home/a/exp2"));
}
