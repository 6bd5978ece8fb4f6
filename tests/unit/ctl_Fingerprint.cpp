// Certificate fingerprints, server URLs and HTTP error bodies of the HTTPS client.

#include <catch2/catch.hpp>

#include "net/HttpsClient.hpp"

using namespace fetchml;

namespace {
const std::string kHex = "2e49ae5762c356c1962f6778cc6f15a317c2f0251e369384cb34f3661f156e51";
}

TEST_CASE("fingerprints are normalised to 64 lowercase hex digits", "[ctl][fingerprint]") {
    for (const std::string& text :
         {kHex, std::string("2E49AE5762C356C1962F6778CC6F15A317C2F0251E369384CB34F3661F156E51"),
          std::string("2E:49:AE:57:62:C3:56:C1:96:2F:67:78:CC:6F:15:A3:17:C2:F0:25:1E:36:93:84:"
                      "CB:34:F3:66:1F:15:6E:51"),
          std::string("sha256 Fingerprint=2E:49:AE:57:62:C3:56:C1:96:2F:67:78:CC:6F:15:A3:17:C2:"
                      "F0:25:1E:36:93:84:CB:34:F3:66:1F:15:6E:51"),
          "SHA256:" + kHex}) {
        INFO(text);
        auto fp = normaliseFingerprint(text);
        REQUIRE(fp.ok());
        CHECK(*fp == kHex);
    }
}

TEST_CASE("malformed fingerprints are refused", "[ctl][fingerprint]") {
    for (const std::string& text : {std::string(""), kHex.substr(1), kHex + "00",
                                    "zz" + kHex.substr(2), "sha1:" + kHex, kHex + " "}) {
        INFO(text);
        auto fp = normaliseFingerprint(text);
        REQUIRE_FALSE(fp.ok());
        CHECK(fp.error().code == ErrorCode::InvalidArgument);
        CHECK(fp.error().message.find("is not a SHA-256 fingerprint") != std::string::npos);
    }
}

TEST_CASE("server URLs give host and port", "[ctl][fingerprint]") {
    auto url = parseHttpsUrl("https://fetchml.lan:9443/");
    REQUIRE(url.ok());
    CHECK(url->host == "fetchml.lan");
    CHECK(url->port == 9443);
    auto noPort = parseHttpsUrl("https://127.0.0.1");
    REQUIRE(noPort.ok());
    CHECK(noPort->port == 9101);
    auto v6 = parseHttpsUrl("https://[::1]:8443");
    REQUIRE(v6.ok());
    CHECK(v6->host == "::1");
    CHECK(v6->port == 8443);
    for (const char* bad : {"http://x", "https://", "https://x:0", "https://x:70000",
                            "https://x:12a", "https://x/v1", "https://[::1"}) {
        INFO(bad);
        CHECK_FALSE(parseHttpsUrl(bad).ok());
    }
}

TEST_CASE("error bodies become errors with the server's code and message", "[ctl][fingerprint]") {
    auto e = httpError(404, R"({"error":{"code":"NotFound","message":"job j9 not found"}})", "h:1");
    CHECK(e.code == ErrorCode::NotFound);
    CHECK(e.message == "job j9 not found");
    auto denied = httpError(
        403, R"({"error":{"code":"PermissionDenied","message":"viewer may not"}})", "h:1");
    CHECK(denied.code == ErrorCode::PermissionDenied);
    auto plain = httpError(401, "<html>nope</html>", "h:1");
    CHECK(plain.code == ErrorCode::Unauthenticated);
    CHECK(plain.message == "HTTP 401 from h:1");
    CHECK(httpError(503, "", "h:1").code == ErrorCode::Busy);
    CHECK(httpError(502, "", "h:1").code == ErrorCode::Internal);
}
