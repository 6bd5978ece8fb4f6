#pragma once
// Authenticator: who is calling and what may they do (DESIGN.md §3 "Identity",
// docs/security.md). A request with an API key is made by the key's user with the key's role
// (RoleTable). Otherwise the caller is its Unix user on the bus: uid 0 and fetchmld's own uid
// may do everything; any other local user is asked about with polkit (Permissions.hpp maps each
// permission to an action of polkit/org.fetchml.policy); where polkit is not on the bus, a local
// user gets the role auth.local_role.

#include <sys/types.h>

#include <optional>
#include <string>

#include "Permissions.hpp"
#include "PolkitAuthority.hpp"
#include "UserNameCache.hpp"
#include "UserStore.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// The resolved caller.
struct Identity {
    std::string user;  ///< user name ("uid:<n>" for a local uid without a passwd entry)
    /// API key callers: the key's role. Local callers: "admin" for root/fetchmld's uid,
    /// "local" when polkit decides (falling back to auth.local_role), else auth.local_role.
    std::string role;
    bool viaApiKey = false;
    std::string keyId;         ///< API key callers: the key id (not secret)
    std::optional<uid_t> uid;  ///< local callers: the sender's uid
    std::string sender;        ///< local callers: the sender's unique bus name
    std::string remoteAddr;    ///< API key callers: client address fetchml-httpsd reported
};

/// Resolves callers and checks permissions.
class Authenticator {
public:
    /// selfUid: the uid fetchmld runs as. polkit: nullptr = never ask polkit. localRole: the
    /// role of other local users when polkit is unavailable. All borrowed. names: the user
    /// names of local uids (kept for a short time; UserNameCache).
    Authenticator(UserStore& users, const RoleTable& roles, uid_t selfUid, PolkitAuthority* polkit,
                  std::string localRole, UserNameCache names = UserNameCache())
        : users_(users),
          roles_(roles),
          selfUid_(selfUid),
          polkit_(polkit),
          localRole_(std::move(localRole)),
          names_(std::move(names)) {}

    /// The caller: by apiKey when given (non-empty), else by the sender's uid and bus name.
    /// Errors: Unauthenticated "invalid API key" (*why, when given, gets the audit reason);
    /// Unauthenticated when neither is known.
    Result<Identity> identify(const std::optional<std::string>& apiKey,
                              std::optional<uid_t> senderUid, const std::string& sender,
                              std::string* why = nullptr) const;
    /// True when the caller holds permission (see the header comment for how).
    bool allows(const Identity& caller, Permission permission) const;
    /// Ok, or PermissionDenied "<user> (role <r>) lacks permission <name>".
    Result<void> require(const Identity& caller, Permission permission) const;
    /// For a job or key of `owner`: `any`, or `own` when the caller is the owner. Errors as
    /// require, naming the permission that would have allowed it.
    Result<void> requireFor(const Identity& caller, const std::string& owner, Permission own,
                            Permission any) const;
    /// True when every permission of `role` is held by the caller (keys a caller may mint).
    bool holdsRole(const Identity& caller, const std::string& role) const;
    /// HTTPS requests a minute for the caller's role, 0 = the https default.
    std::uint32_t rateLimitFor(const Identity& caller) const;

private:
    UserStore& users_;
    const RoleTable& roles_;
    uid_t selfUid_;
    PolkitAuthority* polkit_;
    std::string localRole_;
    mutable UserNameCache names_;  ///< a cache: identify() stays a query
};

}  // namespace fetchml
