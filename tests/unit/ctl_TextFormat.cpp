// How fetchmlctl writes sizes, counts and times (TextFormat.hpp).

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "TextFormat.hpp"

using namespace fetchml::ctl;

TEST_CASE("sizes, counts and UTC times for people", "[ctl][format]") {
    CHECK(humanBytes(0) == "0 B");
    CHECK(humanBytes(1023) == "1023 B");
    CHECK(humanBytes(1024) == "1.0 KiB");
    CHECK(humanBytes(1536) == "1.5 KiB");
    CHECK(humanBytes(52ull << 20) == "52.0 MiB");
    CHECK(humanBytes(3ull << 40) == "3.0 TiB");
    CHECK(humanBytes(2048ull << 40) == "2048.0 TiB");  // no unit above TiB
    CHECK(plural(1, "file") == "1 file");
    CHECK(plural(0, "file") == "0 files");
    CHECK(plural(70000, "file") == "70000 files");
    CHECK(utcMinute(0) == "1970-01-01 00:00 UTC");
    CHECK(utcMinute(1796023080000) == "2026-11-30 07:18 UTC");
    CHECK(formatTime(1796023080999, "%H:%M:%S", false) == "07:18:00");
}

TEST_CASE("a command is shown as words a shell splits back the same", "[ctl][text]") {
    CHECK(shellWords({"python3", "train.py", "--lr=0.1"}) == "python3 train.py --lr=0.1");
    CHECK(shellWords({"sh", "-c", "echo hi; exit 3"}) == "sh -c 'echo hi; exit 3'");
    CHECK(shellWords({"echo", ""}) == "echo ''");
    CHECK(shellWords({"echo", "it's"}) == "echo 'it'\\''s'");
    CHECK(shellWords({"a$b", "*"}) == "'a$b' '*'");
    // The shell's own reading of it gives the words back.
    const std::vector<std::string> argv{"printf", "%s|", "a b", "it's", "", "$HOME", "x\ny"};
    const std::string line =
        "set -- " + shellWords(argv) + "; for w in \"$@\"; do printf '%s\\0' \"$w\"; done";
    const std::string cmd = "sh -c " + shellWords({line});
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[256];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) {
        out.append(buf, n);
    }
    CHECK(pclose(pipe) == 0);
    std::vector<std::string> words;
    for (std::size_t start = 0, nul; (nul = out.find('\0', start)) != std::string::npos;
         start = nul + 1) {
        words.push_back(out.substr(start, nul - start));
    }
    CHECK(words == argv);
}
