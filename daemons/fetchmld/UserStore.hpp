#pragma once
// UserStore: users with a role, and their API keys (decisions.md "Identity and API keys",
// docs/security.md). Only the key id and the SHA-256 of the whole key are stored; a key may
// carry its own role (else the user's), an expiry and a revocation time.

#include <optional>
#include <string>
#include <vector>

#include "Database.hpp"
#include "JobStore.hpp"
#include "Permissions.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// A user and its role (a role of the RoleTable).
struct User {
    std::string name;
    std::string role;
};

/// What an API key stands for, once verified.
struct KeyOwner {
    std::string user;   ///< the key's user
    std::string role;   ///< the key's role, or the user's when the key has none
    std::string keyId;  ///< 12 hex digits; not secret, fine in logs
};

/// An API key as listed: never its secret or hash.
struct KeyInfo {
    std::string keyId;
    std::string user;
    std::string role;            ///< the effective role (key's or user's)
    std::int64_t createdAt = 0;  ///< ms since the epoch
    std::int64_t expiresAt = 0;  ///< ms since the epoch, 0 = never
    std::int64_t revokedAt = 0;  ///< ms since the epoch, 0 = not revoked
};

/// A key just created: apiKey is shown once and never stored.
struct NewKey {
    KeyInfo info;
    std::string apiKey;
};

/// A user just created, with its first key (shown once, never stored).
struct NewUser {
    User user;
    std::string apiKey;
};

/// Users and API keys.
class UserStore {
public:
    /// roles: the role table names are checked against (outlives the store).
    UserStore(Database& db, const RoleTable& roles, MsClock clock = wallClockMs)
        : db_(db), roles_(roles), clock_(std::move(clock)) {}

    /// True for user names: 1–64 characters of [A-Za-z0-9_.@-], not starting with '-'.
    static bool isValidName(const std::string& name);

    /// Creates a user and its first API key. Errors: InvalidArgument "name: ..." / "role: ..."
    /// for a bad name or a role the table lacks, or "name: user <name> already exists";
    /// Internal when no key could be generated.
    Result<NewUser> addUser(const std::string& name, const std::string& role);
    /// A new key for an existing user; role "" = follow the user's role; expiresAt in ms since
    /// the epoch, 0 = never. Errors: NotFound "user: ..."; InvalidArgument "role: ..." or
    /// "expires: ... in the past".
    Result<NewKey> createKey(const std::string& user, const std::string& role,
                             std::int64_t expiresAt);
    /// Keys, newest first; user "" = all users. Revoked keys are listed (with revokedAt).
    Result<std::vector<KeyInfo>> listKeys(const std::string& user);
    /// One key by id. Errors: NotFound "key <id> does not exist".
    Result<KeyInfo> getKey(const std::string& keyId);
    /// Revokes a key at once (later uses fail). Errors: NotFound; InvalidArgument when it is
    /// already revoked.
    Result<KeyInfo> revokeKey(const std::string& keyId);
    /// The owner of apiKey. Errors: Unauthenticated "invalid API key" for a malformed,
    /// unknown, wrong, expired or revoked key (the same message for all, never the key);
    /// *why (when given) gets "malformed", "unknown key id <id>", "wrong secret for key <id>",
    /// "key <id> expired" or "key <id> revoked" for the audit log.
    Result<KeyOwner> authenticate(const std::string& apiKey, std::string* why = nullptr);
    /// A user by name, nullopt when unknown.
    Result<std::optional<User>> find(const std::string& name);

private:
    Result<void> insertKey(const std::string& keyId, const std::string& user,
                           const std::string& role, const std::string& hash,
                           std::int64_t expiresAt);

    Database& db_;
    const RoleTable& roles_;
    MsClock clock_;
};

}  // namespace fetchml
