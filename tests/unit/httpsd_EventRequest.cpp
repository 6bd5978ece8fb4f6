// The message protocol of GET /v1/events (daemons/fetchml-httpsd/EventRequest.hpp): the
// client's job filter, who may see which job, and the server's messages.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fetchml-httpsd/EventRequest.hpp"
#include "fetchml-httpsd/Router.hpp"

using fetchml::ErrorCode;
using fetchml::VariantMap;
using fetchml::edge::EventFilter;
using fetchml::edge::EventViewer;
using fetchml::edge::mayWatch;
using fetchml::edge::parseEventRequest;
using nlohmann::json;

namespace {

std::string errorOf(std::string_view text) {
    auto parsed = parseEventRequest(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::InvalidArgument);
    return parsed.error().message;
}

}  // namespace

TEST_CASE("a job filter narrows the subscription", "[httpsd][events]") {
    auto some = parseEventRequest(R"({"jobs":["j000001","j000002","j000001"]})");
    REQUIRE(some.ok());
    REQUIRE(some->jobs.has_value());
    CHECK(some->jobs->size() == 2);
    CHECK(some->wants("j000001"));
    CHECK(some->wants("j000002"));
    CHECK_FALSE(some->wants("j000003"));

    // An empty list: no job at all; null or no field: every job.
    auto none = parseEventRequest(R"({"jobs":[]})");
    REQUIRE(none.ok());
    CHECK_FALSE(none->wants("j000001"));
    for (const char* all : {R"({"jobs":null})", "{}", " { } "}) {
        auto parsed = parseEventRequest(all);
        REQUIRE(parsed.ok());
        CHECK_FALSE(parsed->jobs.has_value());
        CHECK(parsed->wants("j000042"));
    }
}

TEST_CASE("a bad client message is InvalidArgument naming the field", "[httpsd][events]") {
    CHECK(errorOf("") == "the message is not valid JSON");
    CHECK(errorOf("{\"jobs\": [") == "the message is not valid JSON");
    CHECK(errorOf(R"(["j000001"])") == "the message must be a JSON object");
    CHECK(errorOf(R"("jobs")") == "the message must be a JSON object");
    CHECK(errorOf(R"({"job":["j000001"]})") == "unknown field 'job'");
    CHECK(errorOf(R"({"jobs":"j000001"})").find("field 'jobs'") == 0);
    CHECK(errorOf(R"({"jobs":[1]})").find("field 'jobs'") == 0);
    CHECK(errorOf(R"({"jobs":[""]})").find("field 'jobs'") == 0);
    CHECK(errorOf(R"({"jobs":["../x"]})").find("field 'jobs'") == 0);
    CHECK(errorOf(R"({"jobs":[".."]})").find("field 'jobs'") == 0);
    CHECK(errorOf("{\"jobs\":[\"" + std::string(129, 'a') + "\"]}").find("field 'jobs'") == 0);
    json many = json::array();
    for (std::size_t i = 0; i <= fetchml::edge::kMaxEventJobs; ++i) {
        many.push_back("j" + std::to_string(i));
    }
    CHECK(errorOf(json{{"jobs", many}}.dump()).find("more than 1000 ids") != std::string::npos);
    // Invalid UTF-8 and NUL bytes are refused, not passed on.
    CHECK_FALSE(parseEventRequest(std::string("{\"jobs\":[\"j\xff\"]}")).ok());
    CHECK_FALSE(parseEventRequest(std::string("{\"jobs\":[\"j\0\"]}", 13)).ok());
}

TEST_CASE("admins and viewers see every job, researchers their own", "[httpsd][events]") {
    CHECK(mayWatch(EventViewer{"root", "admin"}, "alice"));
    CHECK(mayWatch(EventViewer{"carol", "viewer"}, "alice"));
    CHECK(mayWatch(EventViewer{"alice", "researcher"}, "alice"));
    CHECK_FALSE(mayWatch(EventViewer{"bob", "researcher"}, "alice"));
    // No owner in the signal: only those who see every job get it.
    CHECK_FALSE(mayWatch(EventViewer{"bob", "researcher"}, ""));
    CHECK_FALSE(mayWatch(EventViewer{"", "researcher"}, ""));
    CHECK(mayWatch(EventViewer{"carol", "viewer"}, ""));
    // A role this version does not know reads its own jobs only.
    CHECK_FALSE(mayWatch(EventViewer{"dave", "auditor"}, "alice"));
    CHECK(mayWatch(EventViewer{"dave", "auditor"}, "dave"));
}

TEST_CASE("the server's messages", "[httpsd][events]") {
    VariantMap props{{"user", sdbus::Variant(std::string("alice"))},
                     {"exit_code", sdbus::Variant(std::int32_t{0})},
                     {"command", sdbus::Variant(std::vector<std::string>{"sh", "run.sh"})},
                     {"upload", sdbus::Variant(sdbus::UnixFd(0))}};
    auto job = json::parse(fetchml::edge::jobEventMessage("j000007", "queued", props));
    CHECK(job["type"] == "job");
    CHECK(job["id"] == "j000007");
    CHECK(job["state"] == "queued");
    CHECK(job["props"]["user"] == "alice");
    CHECK(job["props"]["exit_code"] == 0);
    CHECK(job["props"]["command"] == json{"sh", "run.sh"});
    CHECK_FALSE(job["props"].contains("upload"));  // a descriptor has no JSON form

    auto ready = json::parse(fetchml::edge::readyMessage(EventViewer{"alice", "researcher"}));
    CHECK(ready == json{{"type", "ready"}, {"user", "alice"}, {"role", "researcher"}});
    EventFilter all;
    CHECK(json::parse(fetchml::edge::subscribedMessage(all)) ==
          json{{"type", "subscribed"}, {"jobs", nullptr}});
    EventFilter one{std::set<std::string>{"j000001"}};
    CHECK(json::parse(fetchml::edge::subscribedMessage(one))["jobs"] == json{"j000001"});
    auto error = json::parse(fetchml::edge::errorMessage(
        fetchml::makeError(ErrorCode::InvalidArgument, "unknown field 'x'")));
    CHECK(error["type"] == "error");
    CHECK(error["error"]["code"] == "InvalidArgument");
    CHECK(error["error"]["message"] == "unknown field 'x'");
}

TEST_CASE("GET /v1/events is a route that needs a key", "[httpsd][events]") {
    auto routed = fetchml::edge::Router::match("GET", "/v1/events");
    REQUIRE(std::holds_alternative<fetchml::edge::RouteMatch>(routed));
    CHECK(std::get<fetchml::edge::RouteMatch>(routed).route == fetchml::edge::Route::Events);
    CHECK(std::get<fetchml::edge::RouteMatch>(routed).needsAuth);
    auto post = fetchml::edge::Router::match("POST", "/v1/events");
    REQUIRE(std::holds_alternative<fetchml::edge::RouteError>(post));
    CHECK(std::get<fetchml::edge::RouteError>(post).status == 405);
}
