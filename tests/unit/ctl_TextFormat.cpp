// How fetchmlctl writes sizes, counts and times (TextFormat.hpp).

#include <catch2/catch.hpp>

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
