// .fetchmlignore in gitignore(5) syntax: IgnoreRules directly, and Manifest::scan on real
// trees. Every tree case is also built a second time with the same patterns in .gitignore and
// compared with what `git ls-files --others --exclude-standard` lists, so the expectations
// below are checked against git itself, not only written by hand.
#include <catch2/catch.hpp>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "store/IgnoreRules.hpp"
#include "store/Manifest.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

using PathSet = std::set<std::string>;

// A tree: paths of regular files (parents are created), or "name -> target" for a symlink.
void buildTree(const StoreTempDir& tmp, const std::vector<std::string>& files) {
    for (const std::string& f : files) {
        std::size_t arrow = f.find(" -> ");
        if (arrow == std::string::npos) {
            writeTestFile(tmp / f, "x");
            continue;
        }
        std::string link = tmp / f.substr(0, arrow);
        std::filesystem::create_directories(std::filesystem::path(link).parent_path());
        REQUIRE(::symlink(f.substr(arrow + 4).c_str(), link.c_str()) == 0);
    }
}

// What Manifest::scan keeps (entries, and skipped symlinks: git lists those as files), without
// the ignore file itself.
PathSet scanKept(const std::string& dir) {
    auto m = Manifest::scan(dir);
    REQUIRE(m.ok());
    PathSet out;
    for (const auto& e : m->entries()) {
        out.insert(e.path);
    }
    for (const auto& s : m->skipped()) {
        out.insert(s.path);
    }
    out.erase(".fetchmlignore");
    return out;
}

// Environment for git that reads no system or user configuration or excludes file.
const char* const kGitEnv =
    "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=/nonexistent "
    "XDG_CONFIG_HOME=/nonexistent LC_ALL=C";

bool haveGit() {
    static const bool have = std::system("git --version >/dev/null 2>&1") == 0;
    return have;
}

// Untracked, not ignored files of dir as git sees them, without the .gitignore itself.
PathSet gitKept(const std::string& dir) {
    std::string cmd = std::string("cd '") + dir + "' && " + kGitEnv +
                      " git init -q --template= . && " + kGitEnv +
                      " git -c core.excludesFile=/dev/null ls-files -z --others --exclude-standard";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) {
        out.append(buf, n);
    }
    INFO("command: " << cmd);
    REQUIRE(::pclose(p) == 0);
    PathSet files;
    for (std::size_t start = 0; start < out.size();) {
        std::size_t end = out.find('\0', start);
        files.insert(out.substr(start, end - start));
        start = end + 1;
    }
    files.erase(".gitignore");
    return files;
}

struct TreeCase {
    const char* rule;
    std::string patterns;
    std::vector<std::string> files;
    PathSet kept;  // what a correct implementation keeps (git agrees, see gitKept)
};

// One case: scan with .fetchmlignore against the expectation, then (when git is installed)
// the same tree with .gitignore through git.
void checkCase(const TreeCase& c) {
    INFO("rule: " << c.rule << "\npatterns:\n" << c.patterns);
    StoreTempDir ours;
    buildTree(ours, c.files);
    writeTestFile(ours / ".fetchmlignore", c.patterns);
    PathSet kept = scanKept(ours.path());
    CHECK(kept == c.kept);
    if (!haveGit()) {
        WARN("git is not installed: not comparing with git ls-files");
        return;
    }
    StoreTempDir theirs;
    buildTree(theirs, c.files);
    writeTestFile(theirs / ".gitignore", c.patterns);
    CHECK(kept == gitKept(theirs.path()));
}

const std::vector<TreeCase>& treeCases() {
    static const std::vector<TreeCase> cases = {
        {"negation: a later !pattern re-includes",
         "*.log\n!keep.log\n",
         {"a.log", "keep.log", "sub/b.log", "sub/keep.log", "x.txt"},
         {"keep.log", "sub/keep.log", "x.txt"}},
        {"negation: the last matching pattern wins",
         "!important.log\n*.log\n",
         {"important.log", "x"},
         {"x"}},
        {"negation: nothing below an excluded directory comes back",
         "out/\n!out/keep\nbin/*\n!bin/keep\n",
         {"out/a", "out/keep", "bin/a", "bin/keep", "bin/sub/keep", "src/out/keep"},
         {"bin/keep"}},
        {"negation of a directory",
         "cache*/\n!cache-keep/\n",
         {"cache/a", "cache-old/b", "cache-keep/c", "cachefile"},
         {"cache-keep/c", "cachefile"}},
        {"leading **/ matches at any depth, including the top",
         "**/foo\n**/logs/*.txt\n",
         {"foo", "a/foo", "a/b/foo/x", "foo2", "logs/a.txt", "a/logs/b.txt", "a/logs/c.md",
          "a/logs/sub/d.txt"},
         {"foo2", "a/logs/c.md", "a/logs/sub/d.txt"}},
        {"trailing /** matches everything inside, not the directory itself",
         "abc/**\n!abc/keep\n",
         {"abc/a", "abc/keep", "abc/sub/b", "x/abc/c"},
         {"abc/keep", "x/abc/c"}},
        {"/**/ in the middle matches zero or more directories",
         "a/**/b\n",
         {"a/b", "a/x/b", "a/x/y/b/c", "a/bb", "x/a/b"},
         {"a/bb", "x/a/b"}},
        // "[x]z**": git shortcuts a pattern's literal start (dir.c match_pathname), so in
        // "xz**/y" its "**" would span directories; see the IgnoreRules test below.
        {"** that is not a whole segment is a plain *",
         "doc/**.md\n[x]z**/y\n",
         {"doc/a.md", "doc/sub/b.md", "xz/y", "xz/q/y"},
         {"doc/sub/b.md", "xz/q/y"}},
        {"backslash escapes and comments",
         "#comment\n\\#hash\n\\!bang\nspace\\ \n",
         {"#comment", "#hash", "!bang", "space ", "space", "hash", "bang"},
         {"#comment", "space", "hash", "bang"}},
        {"unescaped trailing spaces are trimmed, tabs are not, CRLF works",
         "trail   \ntab\t\ncrlf\r\nboth\\  \n",
         {"trail", "trail ", "tab", "tab\t", "crlf", "both", "both ", "both  "},
         {"trail ", "tab", "both", "both  "}},
        {"a / at the beginning or middle anchors; otherwise any depth",
         "/top\nmid/dir\nany\n",
         {"top", "sub/top", "mid/dir", "x/mid/dir", "any", "deep/any", "deep/er/any/f"},
         {"sub/top", "x/mid/dir"}},
        {"a trailing / matches directories only (and anchors only with another /)",
         "foo/\ndoc/frotz/\nlink/\n",
         {"foo/a", "bar/foo/b", "baz/foo", "doc/frotz/a", "a/doc/frotz/b", "doc/frotz2",
          "realdir/f", "link -> realdir"},
         {"baz/foo", "a/doc/frotz/b", "doc/frotz2", "realdir/f", "link"}},
        {"fnmatch globs within a segment: *, ?, [...] never cross /",
         "*.o\n?.c\nf[0-9].txt\nsrc/*.py\n",
         {"a.o", "d/b.o", "x.c", "xy.c", "f1.txt", "fa.txt", "src/m.py", "src/sub/n.py"},
         {"xy.c", "fa.txt", "src/sub/n.py"}},
    };
    return cases;
}

}  // namespace

TEST_CASE("Manifest scan follows gitignore rules, as git ls-files does",
          "[store][manifest][ignore]") {
    for (const TreeCase& c : treeCases()) {
        checkCase(c);
    }
}

TEST_CASE("Manifest scan reads only the top .fetchmlignore and always leaves .git out",
          "[store][manifest][ignore]") {
    StoreTempDir tmp;
    writeTestFile(tmp / ".fetchmlignore", "!.git\n!.git/\n*.tmp\n");
    writeTestFile(tmp / "sub/.fetchmlignore", "*\n");
    writeTestFile(tmp / "sub/a.txt", "kept: nested ignore files are not read");
    writeTestFile(tmp / "sub/b.tmp", "ignored by the top file");
    writeTestFile(tmp / ".git/HEAD", "ignored even though negated");
    writeTestFile(tmp / "sub/.git/config", "ignored at any depth");
    REQUIRE(scanKept(tmp.path()) == PathSet{"sub/.fetchmlignore", "sub/a.txt"});
}

TEST_CASE("IgnoreRules matches paths as gitignore(5) says", "[store][ignore]") {
    struct Row {
        const char* patterns;
        const char* path;
        bool isDir;
        bool ignored;
    };
    const Row rows[] = {
        // Basename patterns match at any depth, files and directories.
        {"foo", "foo", false, true},
        {"foo", "a/b/foo", true, true},
        {"foo", "foo/bar", false, false},  // parents are the walker's business
        {"*.c", "a/b.c", false, true},
        {"*.c", "a.cc", false, false},
        // Anchoring.
        {"/foo", "foo", false, true},
        {"/foo", "a/foo", false, false},
        {"a/foo", "a/foo", false, true},
        {"a/foo", "x/a/foo", false, false},
        {"a/*", "a/b/c", false, false},
        {"//foo", "foo", false, false},  // only one leading '/' anchors, as in git
        {"a\\/b", "a/b", false, true},   // an escaped '/' is still a separator (wildmatch)
        // Directories only.
        {"foo/", "foo", false, false},
        {"foo/", "foo", true, true},
        {"a/foo/", "a/foo", true, true},
        // Negation: the last match wins.
        {"*.c\n!a.c", "a.c", false, false},
        {"!a.c\n*.c", "a.c", false, true},
        {"*.c\n!a.c\na*", "a.c", false, true},
        {"!a.c", "a.c", false, false},
        {"foo/\n!foo", "foo", true, false},
        {"foo\n!foo/", "foo", false, true},  // the negation is for directories only
        // "**".
        {"**/foo", "foo", false, true},
        {"**/foo", "a/b/foo", false, true},
        {"**/a/b", "x/a/b", false, true},
        {"**/a/b", "x/a/y/b", false, false},
        {"a/**", "a", true, false},
        {"a/**", "a/b", false, true},
        {"a/**", "a/b/c/d", false, true},
        {"a/**/b", "a/b", false, true},
        {"a/**/b", "a/x/y/z/b", false, true},
        {"a/**/b", "a/x/y/z/c", false, false},
        {"a/**/**/b", "a/b", false, true},
        {"a/**/**", "a", true, false},
        {"a/**/**", "a/b", false, true},
        {"***/foo", "x/foo", false, true},  // three stars: still a globstar
        {"a**/b", "ax/b", false, true},
        // gitignore(5): a plain '*'. git 2.39 answers yes here: it compares the literal "a"
        // first and matches the rest, "**/b", on its own, where "**" is then a globstar.
        // We follow the manual, not that shortcut.
        {"a**/b", "ax/y/b", false, false},
        {"/**", "anything/at/all", false, true},
        {"**", "x/y", false, true},
        {"**/", "x", false, false},
        {"**/", "x", true, true},
        // Escapes, comments, spaces, line ends.
        {"\\#a", "#a", false, true},
        {"#a", "#a", false, false},
        {"\\!a", "!a", false, true},
        {"\\!a", "a", false, false},
        {"a\\ ", "a ", false, true},
        {"a  ", "a", false, true},
        {"a  ", "a ", false, false},
        {"a\t", "a", false, false},
        {"a\r\n", "a", false, true},
        {"\xEF\xBB\xBF"
         "a",
         "a", false, true},  // UTF-8 byte order mark
        {"a\\*", "a*", false, true},
        {"a\\*", "ab", false, false},
        {"\n\n   \n", "a", false, false},
        {"!\n/\n!/", "a", true, false},
    };
    for (const Row& r : rows) {
        INFO("patterns: " << r.patterns << "\npath: " << r.path << (r.isDir ? " (dir)" : ""));
        CHECK(IgnoreRules::parse(r.patterns).isIgnored(r.path, r.isDir) == r.ignored);
    }
}

TEST_CASE("IgnoreRules keeps one pattern a usable line", "[store][ignore]") {
    REQUIRE(IgnoreRules().size() == 0);
    REQUIRE_FALSE(IgnoreRules().isIgnored("a", false));
    REQUIRE(IgnoreRules::parse("# c\n\n  \n!\n/\na\n!b/\nc").size() == 3);
    // A deep path against several "**": answered (matching is a table over segments, not
    // backtracking), and right both ways.
    std::string deep;
    for (int i = 0; i < 200; ++i) {
        deep += "d/";
    }
    REQUIRE(IgnoreRules::parse("**/**/d/**/**/d/**/x").isIgnored(deep + "x", false));
    REQUIRE_FALSE(IgnoreRules::parse("**/**/d/**/**/d/**/y").isIgnored(deep + "x", false));
}
