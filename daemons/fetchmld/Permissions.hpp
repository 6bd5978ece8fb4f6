#pragma once
// Permissions and roles (docs/security.md "Roles and permissions"). A role is a named set of
// permissions; /etc/fetchml/permissions.yaml defines them:
//
//   roles:
//     admin: ["*"]                       # a list of permissions, "*" = all
//     researcher:                        # or a mapping with a per-role rate limit
//       permissions: [jobs.submit, jobs.read.own, "store.*"]
//       rate_limit_per_minute: 120       # HTTPS requests per API key; 0 = https default
//
// "prefix.*" grants every permission under prefix. "*.any" implies the matching "*.own". When
// the file is absent the built-in roles admin, researcher and viewer apply (defaultTable()).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/Result.hpp"
#include "core/YamlParser.hpp"

namespace fetchml {

/// Things a caller may do. "own" permissions apply to the caller's own jobs/keys only.
enum class Permission {
    JobsReadOwn,    ///< jobs.read.own: read own jobs, their logs, metrics and results
    JobsReadAny,    ///< jobs.read.any: read every job (implies jobs.read.own)
    JobsSubmit,     ///< jobs.submit: queue jobs
    JobsCancelOwn,  ///< jobs.cancel.own: cancel own jobs
    JobsCancelAny,  ///< jobs.cancel.any: cancel any job (implies jobs.cancel.own)
    StoreRead,      ///< store.read: read manifests and blobs by id
    StoreUpload,    ///< store.upload: store blobs and manifests
    KeysOwn,        ///< keys.own: create, list and revoke own API keys
    UsersManage,    ///< users.manage: create users, manage everyone's keys
    JobsPrune,      ///< jobs.prune: remove finished jobs, their run directories and unused blobs
    StorePin,       ///< store.pin: pin trees against garbage collection, unpin them (admin)
    DataWriteOwn,   ///< data.write.own: create datasets, add and remove versions of one's own
    DataWriteAny,   ///< data.write.any: add and remove versions of any dataset (implies .own)
};

/// Every permission, in declaration order.
const std::vector<Permission>& allPermissions();
/// The dotted name of a permission ("jobs.read.own").
const char* permissionName(Permission permission);
/// The permission with that dotted name; nullopt when unknown.
std::optional<Permission> parsePermission(const std::string& name);
/// The polkit action (polkit/org.fetchml.policy) that grants a permission to a local caller:
/// org.fetchml.jobs.submit for own work, org.fetchml.jobs.manage for other users' jobs,
/// org.fetchml.admin for users and keys of others and for pins, org.fetchml.jobs.prune for
/// pruning; datasets follow jobs (own: submit, any: manage).
const char* polkitAction(Permission permission);

/// One role.
struct Role {
    std::set<Permission> permissions;
    std::uint32_t rateLimitPerMinute = 0;  ///< HTTPS requests a minute per key; 0 = default
};

/// Roles by name.
class RoleTable {
public:
    /// admin ["*"]; researcher: jobs.read.own, jobs.submit, jobs.cancel.own, store.read,
    /// store.upload, keys.own; viewer: jobs.read.any, store.read.
    static RoleTable defaultTable();
    /// Parses permissions.yaml text. Errors: InvalidArgument "<name>:<line>:<col>: ..." for
    /// bad YAML, an unknown permission, a bad role name or an unknown key.
    static Result<RoleTable> parse(const std::string& text, const std::string& name);
    /// Loads a file; defaultTable() when it does not exist. Errors as parse, Internal when
    /// unreadable.
    static Result<RoleTable> load(const std::string& path);

    /// The role, nullptr when unknown.
    const Role* find(const std::string& role) const;
    /// True when role exists and grants permission (with "*.any" ⇒ "*.own").
    bool allows(const std::string& role, Permission permission) const;
    /// True when every permission of `inner` is granted by `outer` (both must exist).
    bool isSubset(const std::string& inner, const std::string& outer) const;
    /// Role names, sorted.
    std::vector<std::string> names() const;

private:
    static Result<RoleTable> fromDocument(const std::optional<YamlNode>& doc,
                                          const std::string& name);

    std::map<std::string, Role> roles_;
};

}  // namespace fetchml
