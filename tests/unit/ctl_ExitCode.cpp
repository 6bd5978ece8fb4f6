// Exit codes of fetchmlctl and where they are documented.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "ExitCode.hpp"

using namespace fetchml;
using namespace fetchml::ctl;

TEST_CASE("error kinds map to the documented exit codes", "[ctl][exit]") {
    CHECK(exitCodeFor(ErrorCode::InvalidArgument) == ExitCode::Invalid);
    CHECK(exitCodeFor(ErrorCode::NotFound) == ExitCode::Invalid);
    CHECK(exitCodeFor(ErrorCode::Unauthenticated) == ExitCode::Auth);
    CHECK(exitCodeFor(ErrorCode::PermissionDenied) == ExitCode::Auth);
    CHECK(exitCodeFor(ErrorCode::Busy) == ExitCode::Connection);
    CHECK(exitCodeFor(ErrorCode::Internal) == ExitCode::Connection);
    CHECK(static_cast<int>(ExitCode::Usage) == 1);
    CHECK(static_cast<int>(ExitCode::Invalid) == 2);
    CHECK(static_cast<int>(ExitCode::Auth) == 3);
    CHECK(static_cast<int>(ExitCode::Connection) == 4);
    CHECK(static_cast<int>(ExitCode::JobFailed) == 5);

    auto failure = failureFrom(makeError(ErrorCode::NotFound, "job j1 not found"));
    CHECK(failure.exit == ExitCode::Invalid);
    CHECK(failure.message == "job j1 not found");
    CHECK(usageFailure("x").exit == ExitCode::Usage);
}

TEST_CASE("the help footer and docs/cli.md list every exit code", "[ctl][exit]") {
    std::string footer = exitCodeFooter();
    std::ifstream in(std::string(FETCHML_SOURCE_DIR) + "/docs/cli.md");
    REQUIRE(in.good());
    std::stringstream docs;
    docs << in.rdbuf();
    for (int code = 0; code <= 5; ++code) {
        INFO(code);
        CHECK(footer.find("  " + std::to_string(code) + "  ") != std::string::npos);
        CHECK(docs.str().find("| " + std::to_string(code) + " |") != std::string::npos);
    }
}
