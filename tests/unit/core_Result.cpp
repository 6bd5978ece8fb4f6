#include <catch2/catch.hpp>

#include "core/Result.hpp"

using namespace fetchml;

TEST_CASE("Result carries a value or an error", "[core]") {
    Result<int> good = 42;
    REQUIRE(good.ok());
    REQUIRE(*good == 42);
    Result<int> bad = makeError(ErrorCode::NotFound, "job 7 does not exist");
    REQUIRE_FALSE(bad.ok());
    REQUIRE(bad.error().code == ErrorCode::NotFound);
    REQUIRE(bad.error().message == "job 7 does not exist");
}

TEST_CASE("Error codes map to D-Bus names and HTTP statuses", "[core]") {
    REQUIRE(dbusErrorName(ErrorCode::PermissionDenied) == "org.fetchml.Error.PermissionDenied");
    REQUIRE(errorCodeFromDbusName("org.fetchml.Error.Busy") == ErrorCode::Busy);
    REQUIRE(errorCodeFromDbusName("org.freedesktop.DBus.Error.Failed") == ErrorCode::Internal);
    REQUIRE(httpStatus(ErrorCode::Unauthenticated) == 401);
    REQUIRE(httpStatus(ErrorCode::InvalidArgument) == 400);
}
