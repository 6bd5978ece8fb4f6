#include "Authenticator.hpp"

#include <pwd.h>

#include <vector>

namespace fetchml {

namespace {

std::string userNameOf(uid_t uid) {
    std::vector<char> buf(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
        return found->pw_name;
    }
    return "uid:" + std::to_string(uid);
}

const char* permissionVerb(Permission permission) {
    switch (permission) {
        case Permission::Read:
            return "read jobs";
        case Permission::Upload:
            return "upload";
        case Permission::Submit:
            return "submit jobs";
        case Permission::Cancel:
            return "cancel jobs";
        case Permission::Admin:
            return "administer fetchmld";
    }
    return "do that";
}

}  // namespace

Result<Identity> Authenticator::identify(const std::optional<std::string>& apiKey,
                                         std::optional<uid_t> senderUid) const {
    if (apiKey && !apiKey->empty()) {
        auto user = users_.authenticate(*apiKey);
        if (!user) {
            return user.error();
        }
        return Identity{user->name, user->role, true};
    }
    if (!senderUid) {
        return makeError(ErrorCode::Unauthenticated, "the caller could not be identified");
    }
    bool admin = *senderUid == 0 || *senderUid == selfUid_;
    return Identity{userNameOf(*senderUid), admin ? "admin" : "researcher", false};
}

bool Authenticator::allows(const std::string& role, Permission permission) {
    if (role == "admin") {
        return true;
    }
    if (role == "researcher") {
        return permission != Permission::Admin;
    }
    if (role == "viewer") {
        return permission == Permission::Read;
    }
    return false;
}

Result<void> Authenticator::require(const Identity& identity, Permission permission) {
    if (allows(identity.role, permission)) {
        return {};
    }
    return makeError(ErrorCode::PermissionDenied, identity.user + " (role " + identity.role +
                                                      ") may not " + permissionVerb(permission));
}

}  // namespace fetchml
