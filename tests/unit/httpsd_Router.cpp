// The HTTPS route table (docs/architecture/decisions.md "HTTPS API") as matched by the edge.

#include <catch2/catch.hpp>

#include "fetchml-httpsd/Router.hpp"

using fetchml::edge::Route;
using fetchml::edge::RouteError;
using fetchml::edge::RouteMatch;
using fetchml::edge::Router;

namespace {

const std::string kSha(64, 'a');

RouteMatch matched(std::string_view method, std::string_view target) {
    auto result = Router::match(method, target);
    if (auto* error = std::get_if<RouteError>(&result)) {
        FAIL(method << " " << target << " -> " << error->status << " " << error->error.message);
    }
    return std::get<RouteMatch>(result);
}

RouteError failed(std::string_view method, std::string_view target) {
    auto result = Router::match(method, target);
    REQUIRE(std::holds_alternative<RouteError>(result));
    return std::get<RouteError>(result);
}

}  // namespace

TEST_CASE("every route of the table matches its method and path", "[httpsd][router]") {
    struct Case {
        const char* method;
        std::string target;
        Route route;
        std::string param;
    };
    std::vector<Case> cases{
        {"GET", "/health", Route::Health, ""},
        {"POST", "/v1/blobs/missing", Route::BlobsMissing, ""},
        {"POST", "/v1/blobs", Route::BlobsPut, ""},
        {"GET", "/v1/blobs/" + kSha, Route::BlobGet, kSha},
        {"POST", "/v1/commits", Route::CommitPut, ""},
        {"GET", "/v1/commits/" + kSha, Route::CommitGet, kSha},
        {"POST", "/v1/jobs", Route::JobSubmit, ""},
        {"GET", "/v1/jobs", Route::JobList, ""},
        {"GET", "/v1/jobs/j-42", Route::JobGet, "j-42"},
        {"POST", "/v1/jobs/j-42/cancel", Route::JobCancel, "j-42"},
        {"GET", "/v1/jobs/j-42/logs", Route::JobLogs, "j-42"},
        {"GET", "/v1/jobs/j-42/results", Route::JobResults, "j-42"},
        {"POST", "/v1/users", Route::UserAdd, ""},
        {"POST", "/v1/sweeps", Route::SweepSubmit, ""},
        {"POST", "/v1/sweeps/s000001/cancel", Route::SweepCancel, "s000001"},
        {"POST", "/v1/jobs/prune", Route::JobsPrune, ""},
        {"GET", "/v1/jobs/prune", Route::JobGet, "prune"},  // a (missing) job named prune
        {"POST", "/v1/chunks/missing", Route::ChunksMissing, ""},
        {"POST", "/v1/blobs/chunked", Route::ChunkedPut, ""},
        {"POST", "/v1/pins", Route::PinAdd, ""},
        {"GET", "/v1/pins", Route::PinList, ""},
        {"DELETE", "/v1/pins/" + kSha, Route::PinRemove, kSha},
        {"POST", "/v1/datasets", Route::DatasetAdd, ""},
        {"GET", "/v1/datasets", Route::DatasetList, ""},
        {"GET", "/v1/datasets/mnist", Route::DatasetGet, "mnist"},
        {"GET", "/v1/datasets/mnist@3", Route::DatasetGet, "mnist@3"},
        {"GET", "/v1/datasets/img-net_1.k%403", Route::DatasetGet, "img-net_1.k@3"},
        {"DELETE", "/v1/datasets/mnist", Route::DatasetRemove, "mnist"},
        {"DELETE", "/v1/datasets/mnist@12", Route::DatasetRemove, "mnist@12"},
    };
    for (const auto& c : cases) {
        INFO(c.method << " " << c.target);
        RouteMatch m = matched(c.method, c.target);
        CHECK(m.route == c.route);
        CHECK(m.param == c.param);
        CHECK(m.needsAuth == (c.route != Route::Health));
        CHECK(m.streamedBody == (c.route == Route::BlobsPut));
    }
}

TEST_CASE("route names are the enumerators", "[httpsd][router]") {
    CHECK(std::string(fetchml::edge::routeName(Route::Health)) == "Health");
    CHECK(std::string(fetchml::edge::routeName(Route::UserAdd)) == "UserAdd");
    CHECK(std::string(fetchml::edge::routeName(Route::JobCancel)) == "JobCancel");
    CHECK(std::string(fetchml::edge::routeName(Route::JobsPrune)) == "JobsPrune");
    CHECK(std::string(fetchml::edge::routeName(Route::ChunkedPut)) == "ChunkedPut");
    CHECK(std::string(fetchml::edge::routeName(Route::PinRemove)) == "PinRemove");
    CHECK(std::string(fetchml::edge::routeName(Route::DatasetAdd)) == "DatasetAdd");
    CHECK(std::string(fetchml::edge::routeName(Route::DatasetRemove)) == "DatasetRemove");
}

TEST_CASE("query parameters are decoded, the last one wins", "[httpsd][router]") {
    RouteMatch m = matched("GET", "/v1/jobs?state=queued&limit=10&limit=20&name=a+b%2Fc&flag");
    CHECK(m.route == Route::JobList);
    CHECK(m.query.at("state") == "queued");
    CHECK(m.query.at("limit") == "20");
    CHECK(m.query.at("name") == "a b/c");
    CHECK(m.query.at("flag").empty());
    CHECK(matched("GET", "/v1/jobs/").route == Route::JobList);
}

TEST_CASE("unknown paths are 404, other methods 405 with Allow", "[httpsd][router]") {
    RouteError e = failed("GET", "/v2/jobs");
    CHECK(e.status == 404);
    CHECK(e.error.code == fetchml::ErrorCode::NotFound);
    e = failed("GET", "/v1/jobs/x/y/z");
    CHECK(e.status == 404);
    e = failed("DELETE", "/v1/jobs");
    CHECK(e.status == 405);
    CHECK(e.allow == "POST, GET");
    e = failed("GET", "/v1/users");
    CHECK(e.status == 405);
    CHECK(e.allow == "POST");
    e = failed("POST", "/health");
    CHECK(e.status == 405);
    CHECK(e.allow == "GET");
}

TEST_CASE("bad parameters and encodings are 400", "[httpsd][router]") {
    CHECK(failed("GET", "/v1/blobs/ABC").status == 400);                      // not a SHA-256
    CHECK(failed("GET", "/v1/blobs/" + std::string(64, 'A')).status == 400);  // upper case
    CHECK(failed("DELETE", "/v1/pins/j000001").status == 400);                // a tree id
    CHECK(failed("GET", "/v1/jobs/a%2Fb").status == 400);                     // '/' inside an id
    CHECK(failed("GET", "/v1/jobs/..").status == 400);
    CHECK(failed("GET", "/v1/jobs/" + std::string(129, 'x')).status == 400);
    CHECK(failed("GET", "/v1/jobs?state=%zz").status == 400);
    CHECK(failed("GET", "/v1/jobs/a%00b").status == 400);
    CHECK(failed("GET", "v1/jobs").status == 400);
    CHECK(failed("GET", "").status == 400);
}

TEST_CASE("a dataset reference is NAME or NAME@VERSION", "[httpsd][router]") {
    for (const std::string& bad :
         std::vector<std::string>{"-x", ".x", "_x", "a@", "a@b", "a@1@2", "@3", "a@-1", "a%2Fb",
                                  "a b", std::string(65, 'a'), "a@" + std::string(19, '1')}) {
        INFO(bad);
        CHECK(failed("GET", "/v1/datasets/" + bad).status == 400);
        CHECK(failed("DELETE", "/v1/datasets/" + bad).status == 400);
    }
    CHECK(matched("GET", "/v1/datasets/" + std::string(64, 'a')).param == std::string(64, 'a'));
    CHECK(failed("PUT", "/v1/datasets/mnist").allow == "GET, DELETE");
    CHECK(failed("DELETE", "/v1/datasets").allow == "POST, GET");
}

TEST_CASE("percent-decoding follows RFC 3986", "[httpsd][router]") {
    CHECK(Router::percentDecode("a%20b%2fc", false).value() == "a b/c");
    CHECK(Router::percentDecode("a+b", false).value() == "a+b");
    CHECK(Router::percentDecode("a+b", true).value() == "a b");
    CHECK_FALSE(Router::percentDecode("%2", false).ok());
    CHECK_FALSE(Router::percentDecode("%", false).ok());
    CHECK_FALSE(Router::percentDecode("%g0", false).ok());
}

TEST_CASE("the access log target hides secrets", "[httpsd][router]") {
    CHECK(Router::redactTarget("/v1/jobs") == "/v1/jobs");
    CHECK(Router::redactTarget("/v1/jobs?limit=5&api_key=fml_x_y") ==
          "/v1/jobs?limit=5&api_key=***");
    CHECK(Router::redactTarget("/v1/events?Token=abc&state=running") ==
          "/v1/events?Token=***&state=running");
}

TEST_CASE("bearer tokens are taken from the Authorization header", "[httpsd][router]") {
    CHECK(Router::bearerToken("Bearer fml_0123456789ab_secret-_x") == "fml_0123456789ab_secret-_x");
    CHECK(Router::bearerToken("bearer  abc= ") == "abc=");
    CHECK(Router::bearerToken("Basic dXNlcjpwYXNz").empty());
    CHECK(Router::bearerToken("Bearer").empty());
    CHECK(Router::bearerToken("Bearer ").empty());
    CHECK(Router::bearerToken("Bearer a b").empty());
    CHECK(Router::bearerToken("Bearerabc").empty());
    CHECK(Router::bearerToken("").empty());
}
