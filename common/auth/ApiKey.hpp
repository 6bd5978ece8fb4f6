#pragma once
// API keys (docs/architecture/decisions.md "Identity and API keys"):
//   fml_<key id>_<secret>
// key id: 12 lowercase hex digits (6 random bytes); secret: 43 base64url characters without
// padding (RFC 4648 §5) encoding 32 random bytes from RAND_bytes(3). Only the SHA-256 of the
// whole key is stored; verification compares hashes in constant time with CRYPTO_memcmp(3).
// No function here ever puts a key or a secret into an error message.

#include <string>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml {

/// A freshly generated key. fullKey is shown to the user once and never stored.
struct GeneratedApiKey {
    std::string keyId;    ///< 12 lowercase hex digits
    std::string secret;   ///< 43 base64url characters
    std::string fullKey;  ///< "fml_" + keyId + "_" + secret (60 characters)
};

/// Generation, parsing and verification of API keys.
class ApiKey {
public:
    static constexpr std::size_t kKeyIdChars = 12;
    static constexpr std::size_t kSecretChars = 43;
    static constexpr std::size_t kFullKeyChars = 4 + kKeyIdChars + 1 + kSecretChars;

    /// A new random key. Errors: Internal when RAND_bytes fails.
    static Result<GeneratedApiKey> generate();
    /// The key id of a well-formed key. Errors: InvalidArgument "malformed API key" (the
    /// message never contains the key).
    static Result<std::string> parse(std::string_view fullKey);
    /// Lowercase hex SHA-256 of the whole key: the stored form.
    static std::string hashKey(std::string_view fullKey);
    /// True when fullKey hashes to storedHashHex; the comparison takes constant time for a
    /// given hash length (CRYPTO_memcmp).
    static bool verify(std::string_view fullKey, std::string_view storedHashHex);
};

}  // namespace fetchml
