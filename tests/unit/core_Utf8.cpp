#include <catch2/catch.hpp>

#include "core/Utf8.hpp"

using namespace fetchml;

TEST_CASE("isValidUtf8 follows RFC 3629", "[core][utf8]") {
    CHECK(isValidUtf8(""));
    CHECK(isValidUtf8("plain ascii/path.txt"));
    CHECK(isValidUtf8("\xC3\xA9t\xC3\xA9"));       // été
    CHECK(isValidUtf8("\xF0\x9F\x98\x80"));        // U+1F600
    CHECK_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
    CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(isValidUtf8("\xE2\x82"));          // truncated
    CHECK_FALSE(isValidUtf8("\xFF"));
}

TEST_CASE("utf8Step consumes maximal subparts", "[core][utf8]") {
    auto step = utf8Step(
        "\xE2\x82"
        "A",
        0);  // truncated 3-byte sequence, then 'A'
    CHECK_FALSE(step.valid);
    CHECK(step.length == 2);
    CHECK(sanitizeUtf8("\xE2\x82"
                       "A") ==
          "\xEF\xBF\xBD"
          "A");
}
