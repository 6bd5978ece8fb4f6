// Every failure of the edge is a JSON body {"error":{"code","message"}} with its status.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fetchml-httpsd/ErrorResponse.hpp"

using fetchml::ErrorCode;
using fetchml::makeError;
using fetchml::edge::ErrorResponse;

TEST_CASE("error codes map to their HTTP statuses and JSON bodies", "[httpsd][error]") {
    struct Case {
        ErrorCode code;
        unsigned status;
        const char* name;
    };
    for (auto c :
         {Case{ErrorCode::NotFound, 404, "NotFound"},
          Case{ErrorCode::Unauthenticated, 401, "Unauthenticated"},
          Case{ErrorCode::PermissionDenied, 403, "PermissionDenied"},
          Case{ErrorCode::InvalidArgument, 400, "InvalidArgument"},
          Case{ErrorCode::Busy, 503, "Busy"}, Case{ErrorCode::Internal, 500, "Internal"}}) {
        auto response = ErrorResponse::from(makeError(c.code, "what went wrong"));
        CHECK(response.status == c.status);
        auto body = nlohmann::json::parse(response.body);
        CHECK(body.size() == 1);
        CHECK(body.at("error").at("code") == c.name);
        CHECK(body.at("error").at("message") == "what went wrong");
    }
}

TEST_CASE("an explicit status overrides the code's", "[httpsd][error]") {
    auto response = ErrorResponse::from(413, makeError(ErrorCode::InvalidArgument, "too big"));
    CHECK(response.status == 413);
    CHECK(nlohmann::json::parse(response.body).at("error").at("code") == "InvalidArgument");
}

TEST_CASE("messages with quotes, control bytes and bad UTF-8 still give valid JSON",
          "[httpsd][error]") {
    std::string message = "bad \"value\"\n\x01 \xff\xfe end";
    std::string body = ErrorResponse::json(ErrorCode::InvalidArgument, message);
    auto parsed = nlohmann::json::parse(body);  // throws if invalid
    std::string back = parsed.at("error").at("message");
    CHECK(back.find("bad \"value\"\n\x01 ") == 0);
    CHECK(back.find("end") != std::string::npos);
}
