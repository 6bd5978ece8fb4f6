#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "auth/ApiKey.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;

TEST_CASE("ApiKey generate gives keys in the documented format", "[auth][apikey]") {
    std::set<std::string> ids;
    std::set<std::string> secrets;
    for (int i = 0; i < 200; ++i) {
        auto key = ApiKey::generate();
        REQUIRE(key.ok());
        REQUIRE(key->keyId.size() == 12);
        REQUIRE(key->secret.size() == 43);
        REQUIRE(key->fullKey == "fml_" + key->keyId + "_" + key->secret);
        REQUIRE(key->fullKey.size() == ApiKey::kFullKeyChars);
        REQUIRE(key->keyId.find_first_not_of("0123456789abcdef") == std::string::npos);
        REQUIRE(key->secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789-_") == std::string::npos);
        // 32 bytes in 43 characters: the last one carries 4 bits and two zero bits.
        REQUIRE(std::string("AEIMQUYcgkosw048").find(key->secret.back()) != std::string::npos);
        auto parsed = ApiKey::parse(key->fullKey);
        REQUIRE(parsed.ok());
        REQUIRE(*parsed == key->keyId);
        ids.insert(key->keyId);
        secrets.insert(key->secret);
    }
    REQUIRE(ids.size() == 200);
    REQUIRE(secrets.size() == 200);
}

TEST_CASE("ApiKey parse rejects malformed keys without echoing them", "[auth][apikey]") {
    auto key = ApiKey::generate();
    REQUIRE(key.ok());
    const std::string& k = key->fullKey;
    std::string upperId = k;
    upperId[4] = 'A';
    std::string badSecret = k;
    badSecret[30] = '+';
    std::string badSep = k;
    badSep[16] = '-';
    for (const std::string& bad : {std::string(), k.substr(1), k + "x", "FML_" + k.substr(4),
                                   upperId, badSecret, badSep, "Bearer " + k}) {
        auto parsed = ApiKey::parse(bad);
        REQUIRE_FALSE(parsed.ok());
        REQUIRE(parsed.error().code == ErrorCode::InvalidArgument);
        REQUIRE(parsed.error().message.find(key->secret) == std::string::npos);
        REQUIRE(parsed.error().message.find(key->keyId) == std::string::npos);
    }
    // A secret containing '_' is still parsed by position.
    std::string underscores = "fml_0123456789ab_" + std::string(43, '_');
    REQUIRE(*ApiKey::parse(underscores) == "0123456789ab");
}

TEST_CASE("ApiKey hash and verify", "[auth][apikey]") {
    auto key = ApiKey::generate();
    REQUIRE(key.ok());
    std::string stored = ApiKey::hashKey(key->fullKey);
    REQUIRE(stored == Sha256::hashBuffer(key->fullKey));
    REQUIRE(Sha256::isValidHex(stored));
    REQUIRE(ApiKey::verify(key->fullKey, stored));

    std::string wrong = key->fullKey;
    wrong.back() = wrong.back() == 'A' ? 'E' : 'A';
    REQUIRE_FALSE(ApiKey::verify(wrong, stored));
    REQUIRE_FALSE(ApiKey::verify(key->fullKey, stored.substr(1)));
    REQUIRE_FALSE(ApiKey::verify(key->fullKey, ""));
    auto other = ApiKey::generate();
    REQUIRE_FALSE(ApiKey::verify(other->fullKey, stored));
    // Known value: the hash covers the whole key string.
    REQUIRE(ApiKey::hashKey("abc") ==
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
