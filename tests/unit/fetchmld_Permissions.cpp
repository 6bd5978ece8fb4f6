// Unit tests of roles and permissions (Permissions.hpp) and the shipped permissions.yaml.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "Permissions.hpp"

using namespace fetchml;

TEST_CASE("permissions: names round-trip and map to polkit actions", "[fetchmld][auth]") {
    for (Permission p : allPermissions()) {
        auto back = parsePermission(permissionName(p));
        REQUIRE(back.has_value());
        CHECK(*back == p);
        CHECK(std::string(polkitAction(p)).rfind("org.fetchml.", 0) == 0);
    }
    CHECK_FALSE(parsePermission("jobs.read").has_value());
    CHECK(std::string(polkitAction(Permission::UsersManage)) == "org.fetchml.admin");
    CHECK(std::string(polkitAction(Permission::JobsCancelAny)) == "org.fetchml.jobs.manage");
    CHECK(std::string(polkitAction(Permission::JobsSubmit)) == "org.fetchml.jobs.submit");
    CHECK(std::string(polkitAction(Permission::JobsPrune)) == "org.fetchml.jobs.prune");
    CHECK(std::string(permissionName(Permission::JobsPrune)) == "jobs.prune");
}

TEST_CASE("permissions: the built-in roles", "[fetchmld][auth]") {
    auto t = RoleTable::defaultTable();
    CHECK(t.names() == std::vector<std::string>{"admin", "researcher", "viewer"});
    for (Permission p : allPermissions()) {
        CHECK(t.allows("admin", p));
    }
    CHECK(t.allows("researcher", Permission::JobsSubmit));
    CHECK(t.allows("researcher", Permission::JobsCancelOwn));
    CHECK_FALSE(t.allows("researcher", Permission::JobsCancelAny));
    CHECK_FALSE(t.allows("researcher", Permission::JobsReadAny));
    CHECK_FALSE(t.allows("researcher", Permission::UsersManage));
    CHECK_FALSE(t.allows("researcher", Permission::JobsPrune));  // prune is admin-only
    CHECK_FALSE(t.allows("viewer", Permission::JobsPrune));
    CHECK(t.allows("viewer", Permission::JobsReadAny));
    CHECK(t.allows("viewer", Permission::JobsReadOwn));  // any implies own
    CHECK_FALSE(t.allows("viewer", Permission::JobsSubmit));
    CHECK_FALSE(t.allows("viewer", Permission::StoreUpload));
    CHECK_FALSE(t.allows("nobody", Permission::JobsReadOwn));
    CHECK(t.isSubset("viewer", "admin"));
    CHECK(t.isSubset("researcher", "researcher"));
    CHECK_FALSE(t.isSubset("viewer", "researcher"));
    CHECK_FALSE(t.isSubset("admin", "researcher"));
}

TEST_CASE("permissions: the shipped permissions.yaml equals the built-in roles",
          "[fetchmld][auth]") {
    auto path = std::filesystem::path(FETCHML_SOURCE_DIR) / "configs" / "permissions.yaml";
    auto loaded = RoleTable::load(path.string());
    INFO((loaded.ok() ? std::string() : loaded.error().message));
    REQUIRE(loaded.ok());
    auto builtIn = RoleTable::defaultTable();
    REQUIRE(loaded->names() == builtIn.names());
    for (const auto& role : builtIn.names()) {
        CHECK(loaded->find(role)->permissions == builtIn.find(role)->permissions);
    }
}

TEST_CASE("permissions: wildcards, mappings and rate limits", "[fetchmld][auth]") {
    auto t = RoleTable::parse(R"(roles:
  ops:
    permissions: ["jobs.*", store.read]
    rate_limit_per_minute: 600
  bot: [jobs.submit]
)",
                              "p.yaml");
    REQUIRE(t.ok());
    CHECK(t->allows("ops", Permission::JobsCancelAny));
    CHECK(t->allows("ops", Permission::JobsSubmit));
    CHECK_FALSE(t->allows("ops", Permission::StoreUpload));
    CHECK(t->find("ops")->rateLimitPerMinute == 600);
    CHECK(t->find("bot")->rateLimitPerMinute == 0);
    CHECK(t->names() == std::vector<std::string>{"bot", "ops"});
}

TEST_CASE("permissions: bad files name the place", "[fetchmld][auth]") {
    auto unknown = RoleTable::parse("roles:\n  r: [jobs.submit, job.cancel]\n", "p.yaml");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.rfind("p.yaml:2:20: unknown permission 'job.cancel'", 0) == 0);

    auto badKey = RoleTable::parse("roles:\n  r:\n    permission: [jobs.submit]\n", "p.yaml");
    REQUIRE_FALSE(badKey.ok());
    CHECK(badKey.error().message.rfind("p.yaml:3:5: unknown key 'permission'", 0) == 0);

    auto badName = RoleTable::parse("roles:\n  Admin!: ['*']\n", "p.yaml");
    REQUIRE_FALSE(badName.ok());
    CHECK(badName.error().message.rfind("p.yaml:2:3:", 0) == 0);

    auto badLimit = RoleTable::parse(
        "roles:\n  r:\n    permissions: []\n    rate_limit_per_minute: -1\n", "p.yaml");
    REQUIRE_FALSE(badLimit.ok());
    CHECK(badLimit.error().message.find("rate_limit_per_minute") != std::string::npos);

    CHECK_FALSE(RoleTable::parse("roles: {}\n", "p.yaml").ok());
    CHECK_FALSE(RoleTable::parse("other: 1\n", "p.yaml").ok());
    CHECK_FALSE(RoleTable::parse("roles:\n  r: ['nothing.*']\n", "p.yaml").ok());
}

TEST_CASE("permissions: a missing file means the built-in roles", "[fetchmld][auth]") {
    auto t = RoleTable::load("/nonexistent/permissions.yaml");
    REQUIRE(t.ok());
    CHECK(t->names() == RoleTable::defaultTable().names());
}

TEST_CASE("permissions: every polkit action is defined in the shipped policy", "[fetchmld][auth]") {
    std::ifstream in(std::string(FETCHML_SOURCE_DIR) + "/polkit/org.fetchml.policy");
    REQUIRE(in);
    std::string policy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (Permission p : allPermissions()) {
        INFO(permissionName(p));
        CHECK(policy.find("<action id=\"" + std::string(polkitAction(p)) + "\">") !=
              std::string::npos);
    }
}
