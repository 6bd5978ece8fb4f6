#pragma once
// Authenticator: who is calling and what may they do (decisions.md "D-Bus interface",
// "Identity and API keys"). A request with an API key is made by the key's user; otherwise
// the caller is its Unix user: uid 0 and fetchmld's own uid are admins, other local users
// researchers (polkit comes with issue 3).

#include <sys/types.h>

#include <optional>
#include <string>

#include "UserStore.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Things a caller may do.
enum class Permission {
    Read,    ///< read jobs, logs, manifests, blobs
    Upload,  ///< store blobs and manifests
    Submit,  ///< queue jobs
    Cancel,  ///< cancel jobs (researchers: only their own)
    Admin,   ///< manage users and keys, cancel any job
};

/// The resolved caller.
struct Identity {
    std::string user;  ///< user name ("uid:<n>" for a local uid without a passwd entry)
    std::string role;  ///< admin | researcher | viewer
    bool viaApiKey = false;
};

/// Resolves callers and checks permissions.
class Authenticator {
public:
    /// selfUid: the uid fetchmld runs as (an admin, like root).
    Authenticator(UserStore& users, uid_t selfUid) : users_(users), selfUid_(selfUid) {}

    /// The caller: by apiKey when given (non-empty), else by the sender's uid.
    /// Errors: Unauthenticated "invalid API key"; Unauthenticated when neither is known.
    Result<Identity> identify(const std::optional<std::string>& apiKey,
                              std::optional<uid_t> senderUid) const;
    /// True when role grants permission: admin all; researcher Read, Upload, Submit, Cancel;
    /// viewer Read.
    static bool allows(const std::string& role, Permission permission);
    /// Ok when identity may do `permission`; PermissionDenied "<user> (role <r>) may not <what>".
    static Result<void> require(const Identity& identity, Permission permission);

private:
    UserStore& users_;
    uid_t selfUid_;
};

}  // namespace fetchml
