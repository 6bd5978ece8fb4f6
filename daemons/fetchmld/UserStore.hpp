#pragma once
// UserStore: users with a role and their API keys (decisions.md "Identity and API keys").
// Only the key id and the SHA-256 of the whole key are stored.

#include <optional>
#include <string>

#include "Database.hpp"
#include "JobStore.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// A user and its role ("admin", "researcher" or "viewer").
struct User {
    std::string name;
    std::string role;
};

/// A user just created, with its first key (shown once, never stored).
struct NewUser {
    User user;
    std::string apiKey;
};

/// Users and API keys.
class UserStore {
public:
    explicit UserStore(Database& db, MsClock clock = wallClockMs)
        : db_(db), clock_(std::move(clock)) {}

    /// True for the roles of this version: admin, researcher, viewer.
    static bool isValidRole(const std::string& role);
    /// True for user names: 1–64 characters of [A-Za-z0-9_.@-], not starting with '-'.
    static bool isValidName(const std::string& name);

    /// Creates a user and its first API key. Errors: InvalidArgument "name: ..." / "role: ..."
    /// for a bad name or role, or "name: user <name> already exists"; Internal when no key
    /// could be generated.
    Result<NewUser> addUser(const std::string& name, const std::string& role);
    /// The user owning apiKey. Errors: Unauthenticated "invalid API key" for a malformed,
    /// unknown or wrong key (the same message for all, and never the key itself).
    Result<User> authenticate(const std::string& apiKey);
    /// A user by name, nullopt when unknown.
    Result<std::optional<User>> find(const std::string& name);

private:
    Database& db_;
    MsClock clock_;
};

}  // namespace fetchml
