#include "Authenticator.hpp"

#include "core/Log.hpp"

namespace fetchml {

Result<Identity> Authenticator::identify(const std::optional<std::string>& apiKey,
                                         std::optional<uid_t> senderUid, const std::string& sender,
                                         std::string* why) const {
    if (apiKey && !apiKey->empty()) {
        auto owner = users_.authenticate(*apiKey, why);
        if (!owner) {
            return owner.error();
        }
        Identity id;
        id.user = owner->user;
        id.role = owner->role;
        id.viaApiKey = true;
        id.keyId = owner->keyId;
        return id;
    }
    if (!senderUid) {
        if (why != nullptr) {
            *why = "no API key and no sender credentials";
        }
        return makeError(ErrorCode::Unauthenticated, "the caller could not be identified");
    }
    Identity id;
    id.user = names_.nameOf(*senderUid);
    id.uid = senderUid;
    id.sender = sender;
    if (*senderUid == 0 || *senderUid == selfUid_) {
        id.role = "admin";
    } else if (polkit_ != nullptr) {
        id.role = "local";
    } else {
        id.role = localRole_;
    }
    return id;
}

bool Authenticator::allows(const Identity& caller, Permission permission) const {
    if (caller.viaApiKey) {
        return roles_.allows(caller.role, permission);
    }
    if (caller.uid && (*caller.uid == 0 || *caller.uid == selfUid_)) {
        return true;
    }
    if (polkit_ != nullptr && !caller.sender.empty()) {
        auto answer = polkit_->check(caller.sender, polkitAction(permission));
        if (!answer) {
            logger("sched.auth")->warn("{}", answer.error().message);
            return false;
        }
        if (*answer != PolkitAnswer::Unavailable) {
            return *answer == PolkitAnswer::Yes;
        }
    }
    return roles_.allows(localRole_, permission);
}

Result<void> Authenticator::require(const Identity& caller, Permission permission) const {
    if (allows(caller, permission)) {
        return {};
    }
    return makeError(
        ErrorCode::PermissionDenied,
        caller.user + " (role " + caller.role + ") lacks permission " + permissionName(permission));
}

Result<void> Authenticator::requireFor(const Identity& caller, const std::string& owner,
                                       Permission own, Permission any) const {
    if (caller.user == owner && allows(caller, own)) {
        return {};
    }
    if (allows(caller, any)) {
        return {};
    }
    // The owner is not named: a caller without the permission learns nothing about it.
    std::string needed = caller.user == owner ? permissionName(own) : permissionName(any);
    return makeError(ErrorCode::PermissionDenied,
                     caller.user + " (role " + caller.role + ") lacks permission " + needed);
}

bool Authenticator::holdsRole(const Identity& caller, const std::string& role) const {
    const Role* wanted = roles_.find(role);
    if (wanted == nullptr) {
        return false;
    }
    for (Permission p : wanted->permissions) {
        if (!allows(caller, p)) {
            return false;
        }
    }
    return true;
}

std::uint32_t Authenticator::rateLimitFor(const Identity& caller) const {
    const Role* role = roles_.find(caller.role);
    return role == nullptr ? 0 : role->rateLimitPerMinute;
}

}  // namespace fetchml
