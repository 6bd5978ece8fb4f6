// AuthAudit: which answered requests become audit events, and what their messages say.
#include <catch2/catch.hpp>

#include "fetchml-httpsd/AuthAudit.hpp"

using fetchml::edge::AuthAudit;

namespace {

const std::string kKey = "fml_0123456789ab_s3cretS3cretS3cretS3cretS3cretS3cretS3c";
const std::string kBearer = "Bearer " + kKey;

}  // namespace

TEST_CASE("auth audit: a 401 is a failure with the address first", "[httpsd][audit]") {
    auto e = AuthAudit::forRequest(
        "GET", "/v1/jobs", "", "192.0.2.7", 401,
        R"({"error":{"code":"Unauthenticated","message":"missing 'Authorization: Bearer <api key>' header"}})");
    REQUIRE(e.has_value());
    CHECK(e->action == "auth");
    CHECK(e->result == "failed");
    CHECK(e->remoteAddr == "192.0.2.7");
    CHECK(e->user.empty());
    CHECK(e->message ==
          "authentication failed from 192.0.2.7: missing 'Authorization: Bearer <api key>' header");
}

TEST_CASE("auth audit: a reason that quotes the key is redacted", "[httpsd][audit]") {
    auto e = AuthAudit::forRequest(
        "POST", "/v1/jobs", kBearer, "192.0.2.7", 401,
        R"({"error":{"code":"Unauthenticated","message":"bad key ')" + kKey + R"('"}})");
    REQUIRE(e.has_value());
    CHECK(e->message.find("s3cret") == std::string::npos);
    CHECK(e->message.rfind("authentication failed from 192.0.2.7: bad key '***'", 0) == 0);
    // A body that is not an error still gives a fixed reason.
    auto plain = AuthAudit::forRequest("GET", "/v1/jobs", kBearer, "::1", 401, "not json");
    REQUIRE(plain.has_value());
    CHECK(plain->message == "authentication failed from ::1: credentials refused");
}

TEST_CASE("auth audit: state-changing successes name the key id, never the secret",
          "[httpsd][audit]") {
    auto e = AuthAudit::forRequest("POST", "/v1/jobs?x=1", kBearer, "192.0.2.8", 201, "{}");
    REQUIRE(e.has_value());
    CHECK(e->result == "ok");
    CHECK(e->message ==
          "authenticated from 192.0.2.8: key 0123456789ab, POST /v1/jobs answered 201");
    CHECK(e->message.find("s3cret") == std::string::npos);
    // fetchmld said who the key is but not allowed: still a successful authentication.
    auto denied = AuthAudit::forRequest("POST", "/v1/users", kBearer, "192.0.2.8", 403, "{}");
    REQUIRE(denied.has_value());
    CHECK(denied->result == "ok");
}

TEST_CASE("auth audit: reads, bad requests and unknown outcomes are not audited",
          "[httpsd][audit]") {
    CHECK_FALSE(AuthAudit::forRequest("GET", "/v1/jobs", kBearer, "192.0.2.8", 200, "{}"));
    // 400 before fetchmld saw the key: the outcome of authentication is not known.
    CHECK_FALSE(AuthAudit::forRequest("POST", "/v1/jobs", kBearer, "192.0.2.8", 400, "{}"));
    CHECK_FALSE(AuthAudit::forRequest("POST", "/v1/jobs", kBearer, "192.0.2.8", 503, "{}"));
    CHECK_FALSE(AuthAudit::forRequest("POST", "/v1/jobs", "Bearer nonsense", "192.0.2.8", 201, ""));
}
