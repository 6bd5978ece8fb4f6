// Unit tests of fetchmld's UserNameCache: names are kept for their lifetime, then looked up
// again; a uid without a password entry is "uid:<n>". No real clock or password database.
#include <catch2/catch.hpp>

#include <map>

#include "UserNameCache.hpp"

using namespace fetchml;
using namespace std::chrono_literals;

TEST_CASE("user names are kept for their lifetime", "[fetchmld][auth]") {
    std::map<uid_t, std::string> passwd{{1000, "alice"}};
    int lookups = 0;
    std::chrono::steady_clock::time_point now{};
    UserNameCache cache(
        10s,
        [&](uid_t uid) -> std::optional<std::string> {
            ++lookups;
            auto it = passwd.find(uid);
            return it == passwd.end() ? std::nullopt : std::optional<std::string>(it->second);
        },
        [&] { return now; });

    CHECK(cache.nameOf(1000) == "alice");
    CHECK(cache.nameOf(1000) == "alice");
    CHECK(lookups == 1);
    CHECK(cache.nameOf(4242) == "uid:4242");
    CHECK(cache.nameOf(4242) == "uid:4242");
    CHECK(lookups == 2);

    // A rename is seen once the entry has expired, not before.
    passwd[1000] = "alicia";
    now += 9s;
    CHECK(cache.nameOf(1000) == "alice");
    now += 1s;
    CHECK(cache.nameOf(1000) == "alicia");
    CHECK(lookups == 3);
}

TEST_CASE("the name cache stays bounded", "[fetchmld][auth]") {
    int lookups = 0;
    std::chrono::steady_clock::time_point now{};
    UserNameCache cache(
        10s,
        [&](uid_t uid) -> std::optional<std::string> {
            ++lookups;
            return "u" + std::to_string(uid);
        },
        [&] { return now; });
    for (uid_t uid = 0; uid < UserNameCache::kMaxEntries + 10; ++uid) {
        CHECK(cache.nameOf(uid) == "u" + std::to_string(uid));
    }
    // Full of live entries, it was emptied to make room: the names since are kept, uid 0
    // is looked up again.
    const int before = lookups;
    CHECK(cache.nameOf(UserNameCache::kMaxEntries + 9) ==
          "u" + std::to_string(UserNameCache::kMaxEntries + 9));
    CHECK(lookups == before);
    CHECK(cache.nameOf(0) == "u0");
    CHECK(lookups == before + 1);
}
