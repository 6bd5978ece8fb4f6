#include "auth/ApiKey.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "store/Sha256.hpp"

namespace fetchml {

namespace {

constexpr std::string_view kPrefix = "fml_";
constexpr std::size_t kKeyIdBytes = 6;
constexpr std::size_t kSecretBytes = 32;

// RFC 4648 §5 base64url without padding, from EVP_EncodeBlock's standard alphabet.
std::string base64Url(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char& c : out) {
        if (c == '+') {
            c = '-';
        } else if (c == '/') {
            c = '_';
        }
    }
    return out;
}

bool isBase64UrlChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool isLowerHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

Result<GeneratedApiKey> ApiKey::generate() {
    std::array<unsigned char, kKeyIdBytes> id{};
    std::array<unsigned char, kSecretBytes> secret{};
    if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1 ||
        RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
        return makeError(ErrorCode::Internal, "RAND_bytes failed: no randomness for an API key");
    }
    GeneratedApiKey key;
    key.keyId = Sha256::toHex(id.data(), id.size());
    key.secret = base64Url(secret.data(), secret.size());
    OPENSSL_cleanse(secret.data(), secret.size());
    key.fullKey = std::string(kPrefix) + key.keyId + "_" + key.secret;
    return key;
}

Result<std::string> ApiKey::parse(std::string_view fullKey) {
    // Fixed positions: the secret's alphabet contains '_', so splitting on '_' would be wrong.
    bool ok = fullKey.size() == kFullKeyChars && fullKey.substr(0, kPrefix.size()) == kPrefix &&
              fullKey[kPrefix.size() + kKeyIdChars] == '_';
    for (std::size_t i = 0; ok && i < kKeyIdChars; ++i) {
        ok = isLowerHex(fullKey[kPrefix.size() + i]);
    }
    for (std::size_t i = kFullKeyChars - kSecretChars; ok && i < kFullKeyChars; ++i) {
        ok = isBase64UrlChar(fullKey[i]);
    }
    if (!ok) {
        return makeError(ErrorCode::InvalidArgument,
                         "malformed API key (expected fml_<12 hex>_<43 base64url>)");
    }
    return std::string(fullKey.substr(kPrefix.size(), kKeyIdChars));
}

std::string ApiKey::hashKey(std::string_view fullKey) {
    return Sha256::hashBuffer(fullKey);
}

bool ApiKey::verify(std::string_view fullKey, std::string_view storedHashHex) {
    std::string actual = hashKey(fullKey);
    // Lengths are public (always 64 for a stored hash); the contents are compared in
    // constant time.
    if (storedHashHex.size() != actual.size()) {
        return false;
    }
    return CRYPTO_memcmp(actual.data(), storedHashHex.data(), actual.size()) == 0;
}

}  // namespace fetchml
