// Unit tests of fetchmlctl's --memory sizes.
#include <catch2/catch.hpp>

#include "MemorySize.hpp"

using fetchml::ctl::parseMemoryMib;

TEST_CASE("memory sizes are MiB or a number with M, G or T", "[ctl][memory]") {
    CHECK(*parseMemoryMib("4096", "--memory") == 4096);
    CHECK(*parseMemoryMib("512M", "--memory") == 512);
    CHECK(*parseMemoryMib("16G", "--memory") == 16384);
    CHECK(*parseMemoryMib("2GiB", "--memory") == 2048);
    CHECK(*parseMemoryMib("1T", "--memory") == 1048576);
    CHECK(*parseMemoryMib("64m", "--memory") == 64);
    CHECK(*parseMemoryMib("2g", "--memory") == 2048);
    for (const char* bad : {"", "G", "0", "-1G", "1.5G", "16 G", "16K", "16Gb", "65T", "1e3"}) {
        auto r = parseMemoryMib(bad, "--memory");
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::StartsWith("--memory: expected MiB or a number"));
    }
}
