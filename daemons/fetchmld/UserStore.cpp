#include "UserStore.hpp"

#include "auth/ApiKey.hpp"

namespace fetchml {

bool UserStore::isValidRole(const std::string& role) {
    return role == "admin" || role == "researcher" || role == "viewer";
}

bool UserStore::isValidName(const std::string& name) {
    if (name.empty() || name.size() > 64 || name[0] == '-') {
        return false;
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '@' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Result<NewUser> UserStore::addUser(const std::string& name, const std::string& role) {
    if (!isValidName(name)) {
        return makeError(ErrorCode::InvalidArgument,
                         "name: expected 1-64 characters of letters, digits, '_', '.', '@', '-'");
    }
    if (!isValidRole(role)) {
        return makeError(ErrorCode::InvalidArgument,
                         "role: expected admin, researcher or viewer, got '" + role + "'");
    }
    auto existing = find(name);
    if (!existing) {
        return existing.error();
    }
    if (*existing) {
        return makeError(ErrorCode::InvalidArgument, "name: user " + name + " already exists");
    }
    auto key = ApiKey::generate();
    if (!key) {
        return key.error();
    }
    auto done = db_.transaction([&]() -> Result<void> {
        auto user = db_.prepare("INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)");
        if (!user) {
            return user.error();
        }
        if (auto r = (*user)->bind(1, name).bind(2, role).bind(3, clock_()).run(); !r) {
            return r;
        }
        auto row = db_.prepare(
            "INSERT INTO api_keys (key_id, user, hash, created_at) VALUES (?, ?, ?, ?)");
        if (!row) {
            return row.error();
        }
        return (*row)
            ->bind(1, key->keyId)
            .bind(2, name)
            .bind(3, ApiKey::hashKey(key->fullKey))
            .bind(4, clock_())
            .run();
    });
    if (!done) {
        return done.error();
    }
    return NewUser{User{name, role}, key->fullKey};
}

Result<User> UserStore::authenticate(const std::string& apiKey) {
    Error invalid = makeError(ErrorCode::Unauthenticated, "invalid API key");
    auto keyId = ApiKey::parse(apiKey);
    if (!keyId) {
        return invalid;
    }
    auto stmt = db_.prepare(
        "SELECT k.hash, u.name, u.role FROM api_keys k JOIN users u ON u.name = k.user "
        "WHERE k.key_id = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, *keyId).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return invalid;
    }
    std::string hash = (*stmt)->text(0);
    User user{(*stmt)->text(1), (*stmt)->text(2)};
    (*stmt)->reset();
    if (!ApiKey::verify(apiKey, hash)) {
        return invalid;
    }
    return user;
}

Result<std::optional<User>> UserStore::find(const std::string& name) {
    auto stmt = db_.prepare("SELECT name, role FROM users WHERE name = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, name).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return std::optional<User>{};
    }
    std::optional<User> user = User{(*stmt)->text(0), (*stmt)->text(1)};
    (*stmt)->reset();
    return user;
}

}  // namespace fetchml
