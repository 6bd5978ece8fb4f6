// Unit tests of users and API keys (UserStore) on a real SQLite database.
#include <catch2/catch.hpp>

#include "UserStore.hpp"
#include "auth/ApiKey.hpp"
#include "fetchmld_TempDb.hpp"

using namespace fetchml;

namespace {

struct Fixture {
    TempDb tmp;
    RoleTable roles = RoleTable::defaultTable();
    std::int64_t now = 1'000'000;
    UserStore users{*tmp.db, roles, [this] { return now; }};
};

}  // namespace

TEST_CASE("users: a key authenticates as its user and role", "[fetchmld][auth]") {
    Fixture f;
    auto alice = f.users.addUser("alice", "researcher");
    REQUIRE(alice.ok());
    CHECK(alice->apiKey.size() == ApiKey::kFullKeyChars);
    auto owner = f.users.authenticate(alice->apiKey);
    REQUIRE(owner.ok());
    CHECK(owner->user == "alice");
    CHECK(owner->role == "researcher");

    auto viewerKey = f.users.createKey("alice", "viewer", 0);
    REQUIRE(viewerKey.ok());
    CHECK(viewerKey->info.role == "viewer");
    auto asViewer = f.users.authenticate(viewerKey->apiKey);
    REQUIRE(asViewer.ok());
    CHECK(asViewer->role == "viewer");
    CHECK(asViewer->keyId == viewerKey->info.keyId);
}

TEST_CASE("users: unknown roles and users are refused", "[fetchmld][auth]") {
    Fixture f;
    auto bad = f.users.addUser("bob", "root");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.rfind("role: unknown role 'root'", 0) == 0);
    REQUIRE(f.users.addUser("bob", "viewer").ok());
    CHECK(f.users.createKey("carol", "", 0).error().code == ErrorCode::NotFound);
    CHECK(f.users.createKey("bob", "superuser", 0).error().code == ErrorCode::InvalidArgument);
    CHECK(f.users.createKey("bob", "", f.now - 1).error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("users: expired, revoked, wrong and malformed keys fail alike", "[fetchmld][auth]") {
    Fixture f;
    REQUIRE(f.users.addUser("alice", "researcher").ok());
    auto shortLived = f.users.createKey("alice", "", f.now + 1000);
    REQUIRE(shortLived.ok());
    CHECK(f.users.authenticate(shortLived->apiKey).ok());
    f.now += 1000;
    std::string why;
    auto expired = f.users.authenticate(shortLived->apiKey, &why);
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.error().message == "invalid API key");
    CHECK(why == "key " + shortLived->info.keyId + " expired");

    auto other = f.users.createKey("alice", "", 0);
    REQUIRE(other.ok());
    REQUIRE(f.users.revokeKey(other->info.keyId).ok());
    CHECK(f.users.revokeKey(other->info.keyId).error().code == ErrorCode::InvalidArgument);
    auto revoked = f.users.authenticate(other->apiKey, &why);
    REQUIRE_FALSE(revoked.ok());
    CHECK(why == "key " + other->info.keyId + " revoked");
    CHECK(revoked.error().message == "invalid API key");

    std::string wrong = other->apiKey;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    CHECK(f.users.authenticate(wrong, &why).error().message == "invalid API key");
    CHECK(why == "wrong secret for key " + other->info.keyId);
    CHECK(f.users.authenticate("fml_nothing", &why).error().message == "invalid API key");
    CHECK(why == "malformed key");
    // No reason or message ever carries the secret.
    CHECK(why.find(other->apiKey.substr(17)) == std::string::npos);
}

TEST_CASE("users: key listing never shows secrets and filters by user", "[fetchmld][auth]") {
    Fixture f;
    auto alice = f.users.addUser("alice", "researcher");
    REQUIRE(alice.ok());
    REQUIRE(f.users.addUser("bob", "viewer").ok());
    f.now += 10;
    REQUIRE(f.users.createKey("alice", "viewer", f.now + 100000).ok());
    auto all = f.users.listKeys("");
    REQUIRE(all.ok());
    CHECK(all->size() == 3);
    auto mine = f.users.listKeys("alice");
    REQUIRE(mine.ok());
    REQUIRE(mine->size() == 2);
    CHECK((*mine)[0].role == "viewer");  // newest first
    CHECK((*mine)[0].expiresAt == f.now + 100000);
    CHECK((*mine)[1].role == "researcher");
    CHECK((*mine)[1].keyId == *ApiKey::parse(alice->apiKey));
}
