#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

// The tree of docs/manifest.md "Test vector"; docs/manifest_vector.py computes the expected
// text and id independently with Python's hashlib.
void buildVectorTree(const StoreTempDir& tmp) {
    writeTestFile(tmp / ".fetchmlignore", "# build output\n*.pyc\n/build/\nlogs/\n");
    writeTestFile(tmp / "README.md", "hello fetchml\n");
    writeTestFile(tmp / "a.txt", "a\n");
    writeTestFile(tmp / "a/b", "b\n");
    writeTestFile(tmp / "data/a b.txt", "spaces in name\n");
    writeTestFile(tmp /
                      "data/donn\xc3\xa9"
                      "es.csv",
                  "x,y\n1,2\n");
    writeTestFile(tmp / "data/empty", "");
    writeTestFile(tmp / "src/build/keep.txt", "kept\n");
    writeTestFile(tmp / "src/logs", "a file, not a directory\n");
    writeTestFile(tmp / "src/model.py", "x = 1\n", 0640);
    writeTestFile(tmp / "train.py", "#!/bin/sh\necho train\n", 0755);
    // Left out: ignored by rules, or not regular files.
    writeTestFile(tmp / ".git/HEAD", "ref: refs/heads/main\n");
    writeTestFile(tmp / "build/out.o", "object");
    writeTestFile(tmp / "src/model.pyc", "bytecode");
    writeTestFile(tmp / "logs/run.txt", "log");
    REQUIRE(::symlink("README.md", (tmp / "link").c_str()) == 0);
}

const char* const kVectorText =
    "fetchml-manifest 1\n"
    "100644 35 a310109ffcbedbda053a5f623d21dd41abac31cec119df9111ca4318b053b285 .fetchmlignore\n"
    "100644 14 516d96ade71caf0a2e140a0a0127ce2f6a852cef618678dd3b93fcba5e17f538 README.md\n"
    "100644 2 87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7 a.txt\n"
    "100644 2 0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f a/b\n"
    "100644 15 39e27603b753246edba0f3bfc3b3fcb514da3d01ecb8edd2dad4bd73c3106ed6 data/a b.txt\n"
    "100644 8 81bf9fa83c6f7f151bd491a98cd7d933de3965289e3ebd77c6c425f7eaa16392 "
    "data/donn\xc3\xa9"
    "es.csv\n"
    "100644 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 data/empty\n"
    "100644 5 78051faade059d70866df6a3fb83ef348721fd74a87e93ef95c493f87d0d236b "
    "src/build/keep.txt\n"
    "100644 24 192d8e9510a5c0a45769fbb790be5b8288ce7812e1c013c9631b8cc80c352c8b src/logs\n"
    "100644 6 9e26bf369911c45c243c684147b23fc9e1dcfcf257d299a1c632016a6fcd33f4 src/model.py\n"
    "100755 21 a7fb404762f20911f57516a96a5e1f781dc13d8fe9cd24161892eab2f6a7ab13 train.py\n";
const char* const kVectorId = "23b5d4f7233f2548af52ecc402230670e86d3c89dd4606a6d63299fc0d023f7b";

std::string line(const std::string& mode, const std::string& size, const std::string& path) {
    return mode + " " + size + " " + Sha256::hashBuffer("") + " " + path + "\n";
}

std::string header() {
    return std::string(Manifest::kHeader) + "\n";
}

}  // namespace

TEST_CASE("Manifest scan of the test vector tree gives the documented text and id",
          "[store][manifest]") {
    StoreTempDir tmp;
    buildVectorTree(tmp);
    auto m = Manifest::scan(tmp.path());
    REQUIRE(m.ok());
    REQUIRE(m->text() == kVectorText);
    REQUIRE(m->commitId() == kVectorId);
    REQUIRE(m->entries().size() == 11);
    REQUIRE(m->entries().back().mode == Manifest::kModeExecutable);
    REQUIRE(m->totalBytes() == 35 + 14 + 2 + 2 + 15 + 8 + 0 + 5 + 24 + 6 + 21);
    REQUIRE(m->skipped().size() == 1);
    REQUIRE(m->skipped()[0].path == "link");
    REQUIRE(m->skipped()[0].reason == "symbolic link");

    // The text parses back to the same manifest.
    auto parsed = Manifest::parse(kVectorText);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->entries() == m->entries());
    REQUIRE(parsed->commitId() == kVectorId);
}

TEST_CASE("Manifest scan is deterministic and ignores times and owners", "[store][manifest]") {
    StoreTempDir a;
    StoreTempDir b;
    buildVectorTree(a);
    // Same content built in another order, with other timestamps and group/other bits.
    writeTestFile(b / "train.py", "#!/bin/sh\necho train\n", 0700);
    writeTestFile(b / "src/model.py", "x = 1\n", 0600);
    writeTestFile(b / "src/logs", "a file, not a directory\n", 0600);
    writeTestFile(b / "src/build/keep.txt", "kept\n");
    writeTestFile(b / "data/empty", "");
    writeTestFile(b / "data/donn\xc3\xa9"
                      "es.csv",
                  "x,y\n1,2\n");
    writeTestFile(b / "data/a b.txt", "spaces in name\n");
    writeTestFile(b / "a/b", "b\n");
    writeTestFile(b / "a.txt", "a\n");
    writeTestFile(b / "README.md", "hello fetchml\n");
    writeTestFile(b / ".fetchmlignore", "# build output\n*.pyc\n/build/\nlogs/\n");
    ::mkdir((b / "empty-dir").c_str(), 0755);  // empty directories are not recorded
    auto ma = Manifest::scan(a.path());
    auto mb = Manifest::scan(b.path());
    REQUIRE(ma.ok());
    REQUIRE(mb.ok());
    REQUIRE(ma->text() == mb->text());
    REQUIRE(Manifest::scan(a.path())->commitId() == ma->commitId());

    writeTestFile(b / "README.md", "hello fetchml!\n");
    REQUIRE(Manifest::scan(b.path())->commitId() != ma->commitId());
}

TEST_CASE("Manifest ignore rules", "[store][manifest]") {
    StoreTempDir tmp;
    writeTestFile(tmp / ".fetchmlignore",
                  "# a comment line\n"
                  "\n"
                  "*.tmp   \n"
                  "data/raw\n"
                  "/cache/*.bin\n"
                  "out/\n");
    writeTestFile(tmp / "keep.txt", "k");
    writeTestFile(tmp / "x.tmp", "t");
    writeTestFile(tmp / "deep/er/y.tmp", "t");
    writeTestFile(tmp / "data/raw/big.bin", "r");
    writeTestFile(tmp / "data/rawer", "kept");
    writeTestFile(tmp / "sub/data/raw", "kept: anchored pattern only matches from the root");
    writeTestFile(tmp / "cache/a.bin", "ignored");
    writeTestFile(tmp / "cache/sub/a.bin", "kept: * does not match /");
    writeTestFile(tmp / "out/o", "ignored");
    writeTestFile(tmp / "src/out/o", "ignored: unanchored directory pattern");
    writeTestFile(tmp / "src/.git/config", "ignored");
    auto m = Manifest::scan(tmp.path());
    REQUIRE(m.ok());
    std::vector<std::string> paths;
    for (const auto& e : m->entries()) {
        paths.push_back(e.path);
    }
    REQUIRE(paths == std::vector<std::string>{".fetchmlignore", "cache/sub/a.bin", "data/rawer",
                                              "keep.txt", "sub/data/raw"});
}

TEST_CASE("Manifest scan reports what it skips and fails on a missing directory",
          "[store][manifest]") {
    StoreTempDir tmp;
    writeTestFile(tmp / "ok", "ok");
    REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0644) == 0);
    writeTestFile(tmp / "bad\xff", "not utf-8");
    auto m = Manifest::scan(tmp.path());
    REQUIRE(m.ok());
    REQUIRE(m->entries().size() == 1);
    REQUIRE(m->skipped().size() == 2);
    REQUIRE(m->skipped()[0].path == "bad\xff");
    REQUIRE(m->skipped()[1].path == "fifo");
    REQUIRE(m->skipped()[1].reason == "not a regular file");

    auto missing = Manifest::scan(tmp / "nope");
    REQUIRE_FALSE(missing.ok());
    REQUIRE(missing.error().code == ErrorCode::NotFound);

    auto notDir = Manifest::scan(tmp / "ok");
    REQUIRE_FALSE(notDir.ok());  // a file is not a directory
}

TEST_CASE("Manifest parse validates and names the line", "[store][manifest]") {
    auto errorOf = [](const std::string& text) {
        auto m = Manifest::parse(text);
        REQUIRE_FALSE(m.ok());
        REQUIRE(m.error().code == ErrorCode::InvalidArgument);
        return m.error().message;
    };
    REQUIRE(Manifest::parse(header()).ok());
    REQUIRE(Manifest::parse(header())->entries().empty());
    REQUIRE(Manifest::parse(header())->commitId() == Sha256::hashBuffer("fetchml-manifest 1\n"));

    REQUIRE_THAT(errorOf(""), Catch::StartsWith("manifest line 1:"));
    REQUIRE_THAT(errorOf("fetchml-manifest 2\n"), Catch::StartsWith("manifest line 1:"));
    REQUIRE_THAT(errorOf("fetchml-manifest 1"), Catch::Contains("final newline"));
    std::string good = line("100644", "0", "a");
    REQUIRE_THAT(errorOf(header() + good + line("100644", "0", "b").substr(0, 70)),
                 Catch::StartsWith("manifest line 3:"));
    REQUIRE_THAT(errorOf(header() + good + line("100600", "0", "b")),
                 Catch::StartsWith("manifest line 3: mode"));
    REQUIRE_THAT(errorOf(header() + line("100644", "01", "a")),
                 Catch::StartsWith("manifest line 2: size"));
    REQUIRE_THAT(errorOf(header() + line("100644", "-1", "a")),
                 Catch::StartsWith("manifest line 2: size"));
    REQUIRE_THAT(errorOf(header() + line("100644", "99999999999999999999999", "a")),
                 Catch::StartsWith("manifest line 2: size"));
    std::string upper = good;
    upper[10] = 'E';
    REQUIRE_THAT(errorOf(header() + upper), Catch::StartsWith("manifest line 2: sha256"));
    REQUIRE_THAT(errorOf(header() + "100644  0 x a\n"), Catch::StartsWith("manifest line 2:"));
    for (const char* path : {"/abs", "a/../b", "./a", "a//b", "a/", ".", "..", "bad\xff"}) {
        INFO(path);
        REQUIRE_THAT(errorOf(header() + line("100644", "0", path)),
                     Catch::StartsWith("manifest line 2: invalid path"));
    }
    REQUIRE_THAT(errorOf(header() + line("100644", "0", "")),
                 Catch::StartsWith("manifest line 2:"));
    REQUIRE_THAT(errorOf(header() + line("100644", "0", "b") + line("100644", "0", "a")),
                 Catch::Equals("manifest line 3: paths are not sorted"));
    REQUIRE_THAT(errorOf(header() + good + good), Catch::Equals("manifest line 3: repeated path"));
    // "a" is a file, so "a/x" cannot exist; "a-b" sorts between them.
    REQUIRE_THAT(errorOf(header() + good + line("100644", "0", "a-b") + line("100644", "0", "a/x")),
                 Catch::Equals("manifest line 4: path is below the file a"));
    // Paths may contain spaces; they are last on the line.
    auto spaced = Manifest::parse(header() + line("100755", "12", "dir with space/f i le"));
    REQUIRE(spaced.ok());
    REQUIRE(spaced->entries()[0].path == "dir with space/f i le");
    REQUIRE(spaced->entries()[0].size == 12);
    REQUIRE(spaced->entries()[0].mode == Manifest::kModeExecutable);
}

TEST_CASE("Manifest from entries sorts and validates", "[store][manifest]") {
    std::string h = Sha256::hashBuffer("x");
    auto m = Manifest::fromEntries({{"b", Manifest::kModeFile, 1, h},
                                    {"a/c", Manifest::kModeExecutable, 1, h},
                                    {"a.txt", Manifest::kModeFile, 1, h}});
    REQUIRE(m.ok());
    REQUIRE(m->entries()[0].path == "a.txt");
    REQUIRE(m->entries()[1].path == "a/c");
    REQUIRE(m->blobHashes() == std::vector<std::string>{h});
    REQUIRE(Manifest::parse(m->text())->entries() == m->entries());

    auto badMode = Manifest::fromEntries({{"a", 0100600, 1, h}});
    REQUIRE_THAT(badMode.error().message, Catch::StartsWith("manifest entry a: mode"));
    auto dup =
        Manifest::fromEntries({{"a", Manifest::kModeFile, 1, h}, {"a", Manifest::kModeFile, 1, h}});
    REQUIRE_THAT(dup.error().message, Catch::Contains("repeated path"));
    REQUIRE_FALSE(Manifest::fromEntries({{"../x", Manifest::kModeFile, 1, h}}).ok());
}
