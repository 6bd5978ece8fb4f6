#include "UserStore.hpp"

#include "auth/ApiKey.hpp"

namespace fetchml {

namespace {

// The effective role of a key row: its own, else the user's.
constexpr const char* kKeyColumns =
    "k.key_id, k.user, CASE WHEN k.role = '' THEN u.role ELSE k.role END, k.created_at, "
    "k.expires_at, k.revoked_at";

KeyInfo keyFrom(const Statement& s) {
    return KeyInfo{s.text(0), s.text(1), s.text(2), s.int64(3), s.int64(4), s.int64(5)};
}

Error roleError(const RoleTable& roles, const std::string& role) {
    std::string known;
    for (const auto& name : roles.names()) {
        known += (known.empty() ? "" : ", ") + name;
    }
    return makeError(ErrorCode::InvalidArgument,
                     "role: unknown role '" + role.substr(0, 40) + "' (known: " + known + ")");
}

}  // namespace

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

Result<void> UserStore::insertKey(const std::string& keyId, const std::string& user,
                                  const std::string& role, const std::string& hash,
                                  std::int64_t expiresAt) {
    auto row = db_.prepare(
        "INSERT INTO api_keys (key_id, user, hash, created_at, role, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    if (!row) {
        return row.error();
    }
    return (*row)
        ->bind(1, keyId)
        .bind(2, user)
        .bind(3, hash)
        .bind(4, clock_())
        .bind(5, role)
        .bind(6, expiresAt)
        .run();
}

Result<NewUser> UserStore::addUser(const std::string& name, const std::string& role) {
    if (!isValidName(name)) {
        return makeError(ErrorCode::InvalidArgument,
                         "name: expected 1-64 characters of letters, digits, '_', '.', '@', '-'");
    }
    if (roles_.find(role) == nullptr) {
        return roleError(roles_, role);
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
        return insertKey(key->keyId, name, "", ApiKey::hashKey(key->fullKey), 0);
    });
    if (!done) {
        return done.error();
    }
    return NewUser{User{name, role}, key->fullKey};
}

Result<NewKey> UserStore::createKey(const std::string& user, const std::string& role,
                                    std::int64_t expiresAt) {
    auto owner = find(user);
    if (!owner) {
        return owner.error();
    }
    if (!*owner) {
        return makeError(ErrorCode::NotFound,
                         "user: user " + user.substr(0, 64) + " does not exist");
    }
    if (!role.empty() && roles_.find(role) == nullptr) {
        return roleError(roles_, role);
    }
    if (expiresAt != 0 && expiresAt <= clock_()) {
        return makeError(ErrorCode::InvalidArgument, "expires: the expiry is in the past");
    }
    auto key = ApiKey::generate();
    if (!key) {
        return key.error();
    }
    if (auto r = insertKey(key->keyId, user, role, ApiKey::hashKey(key->fullKey), expiresAt); !r) {
        return r.error();
    }
    auto info = getKey(key->keyId);
    if (!info) {
        return info.error();
    }
    return NewKey{*info, key->fullKey};
}

Result<std::vector<KeyInfo>> UserStore::listKeys(const std::string& user) {
    std::string sql =
        std::string("SELECT ") + kKeyColumns + " FROM api_keys k JOIN users u ON u.name = k.user";
    if (!user.empty()) {
        sql += " WHERE k.user = ?";
    }
    sql += " ORDER BY k.created_at DESC, k.key_id";
    auto stmt = db_.prepare(sql);
    if (!stmt) {
        return stmt.error();
    }
    if (!user.empty()) {
        (*stmt)->bind(1, user);
    }
    std::vector<KeyInfo> out;
    for (;;) {
        auto row = (*stmt)->step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            break;
        }
        out.push_back(keyFrom(**stmt));
    }
    (*stmt)->reset();
    return out;
}

Result<KeyInfo> UserStore::getKey(const std::string& keyId) {
    auto stmt = db_.prepare(std::string("SELECT ") + kKeyColumns +
                            " FROM api_keys k JOIN users u ON u.name = k.user WHERE k.key_id = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, keyId).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return makeError(ErrorCode::NotFound, "key " + keyId.substr(0, 40) + " does not exist");
    }
    KeyInfo info = keyFrom(**stmt);
    (*stmt)->reset();
    return info;
}

Result<KeyInfo> UserStore::revokeKey(const std::string& keyId) {
    auto info = getKey(keyId);
    if (!info) {
        return info.error();
    }
    if (info->revokedAt != 0) {
        return makeError(ErrorCode::InvalidArgument, "key " + keyId + " is already revoked");
    }
    auto stmt = db_.prepare("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?");
    if (!stmt) {
        return stmt.error();
    }
    info->revokedAt = clock_();
    if (auto r = (*stmt)->bind(1, info->revokedAt).bind(2, keyId).run(); !r) {
        return r.error();
    }
    return info;
}

Result<KeyOwner> UserStore::authenticate(const std::string& apiKey, std::string* why) {
    Error invalid = makeError(ErrorCode::Unauthenticated, "invalid API key");
    auto reason = [why](std::string text) {
        if (why != nullptr) {
            *why = std::move(text);
        }
    };
    auto keyId = ApiKey::parse(apiKey);
    if (!keyId) {
        reason("malformed key");
        return invalid;
    }
    auto stmt = db_.prepare(std::string("SELECT k.hash, ") + kKeyColumns +
                            " FROM api_keys k JOIN users u ON u.name = k.user WHERE k.key_id = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, *keyId).step();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        reason("unknown key id " + *keyId);
        return invalid;
    }
    std::string hash = (*stmt)->text(0);
    KeyOwner owner{(*stmt)->text(2), (*stmt)->text(3), *keyId};
    std::int64_t expiresAt = (*stmt)->int64(5);
    std::int64_t revokedAt = (*stmt)->int64(6);
    (*stmt)->reset();
    // Verify the secret first, so expiry and revocation are told only to the key's holder.
    if (!ApiKey::verify(apiKey, hash)) {
        reason("wrong secret for key " + *keyId);
        return invalid;
    }
    if (revokedAt != 0) {
        reason("key " + *keyId + " revoked");
        return invalid;
    }
    if (expiresAt != 0 && clock_() >= expiresAt) {
        reason("key " + *keyId + " expired");
        return invalid;
    }
    return owner;
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
