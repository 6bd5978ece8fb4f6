#include "Permissions.hpp"

#include <array>

#include "core/YamlParser.hpp"

namespace fetchml {

namespace {

struct PermissionInfo {
    Permission permission;
    const char* name;
    const char* polkit;
};

constexpr std::array kPermissions{
    PermissionInfo{Permission::JobsReadOwn, "jobs.read.own", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::JobsReadAny, "jobs.read.any", "org.fetchml.jobs.manage"},
    PermissionInfo{Permission::JobsSubmit, "jobs.submit", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::JobsCancelOwn, "jobs.cancel.own", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::JobsCancelAny, "jobs.cancel.any", "org.fetchml.jobs.manage"},
    PermissionInfo{Permission::StoreRead, "store.read", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::StoreUpload, "store.upload", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::KeysOwn, "keys.own", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::UsersManage, "users.manage", "org.fetchml.admin"},
    PermissionInfo{Permission::JobsPrune, "jobs.prune", "org.fetchml.jobs.prune"},
    PermissionInfo{Permission::StorePin, "store.pin", "org.fetchml.admin"},
    PermissionInfo{Permission::DataWriteOwn, "data.write.own", "org.fetchml.jobs.submit"},
    PermissionInfo{Permission::DataWriteAny, "data.write.any", "org.fetchml.jobs.manage"},
};

const PermissionInfo& info(Permission permission) {
    return kPermissions[static_cast<std::size_t>(permission)];
}

std::string where(const std::string& name, const YamlNode& node) {
    return name + ":" + std::to_string(node.line) + ":" + std::to_string(node.column) + ": ";
}

Error invalid(const std::string& name, const YamlNode& node, const std::string& what) {
    return makeError(ErrorCode::InvalidArgument, where(name, node) + what);
}

// Adds the permissions a pattern grants: "*", "prefix.*" or one name.
Result<void> grant(const std::string& file, const YamlNode& node, std::set<Permission>& out) {
    if (node.kind != YamlNode::Kind::Scalar || node.isNull()) {
        return invalid(file, node,
                       "expected a permission name, got " + std::string(node.kindName()));
    }
    const std::string& pattern = node.value;
    if (pattern == "*") {
        out.insert(allPermissions().begin(), allPermissions().end());
        return {};
    }
    if (pattern.size() > 2 && pattern.ends_with(".*")) {
        std::string prefix = pattern.substr(0, pattern.size() - 1);  // keeps the dot
        bool any = false;
        for (const auto& p : kPermissions) {
            if (std::string(p.name).starts_with(prefix)) {
                out.insert(p.permission);
                any = true;
            }
        }
        if (!any) {
            return invalid(file, node, "'" + pattern + "' matches no permission");
        }
        return {};
    }
    auto permission = parsePermission(pattern);
    if (!permission) {
        return invalid(file, node,
                       "unknown permission '" + pattern.substr(0, 64) +
                           "' (known: jobs.read.own, jobs.read.any, jobs.submit, "
                           "jobs.cancel.own, jobs.cancel.any, store.read, "
                           "store.upload, keys.own, users.manage, jobs.prune, store.pin, "
                           "data.write.own, data.write.any, \"*\")");
    }
    out.insert(*permission);
    return {};
}

Result<void> grantList(const std::string& file, const YamlNode& node, Role& role) {
    if (node.kind != YamlNode::Kind::Sequence) {
        return invalid(file, node,
                       "expected a list of permissions, got " + std::string(node.kindName()));
    }
    for (const auto& item : node.items) {
        if (auto r = grant(file, item, role.permissions); !r) {
            return r;
        }
    }
    return {};
}

Result<std::uint32_t> parseLimit(const std::string& file, const YamlNode& node) {
    if (node.kind != YamlNode::Kind::Scalar || node.value.empty() || node.value.size() > 9 ||
        node.value.find_first_not_of("0123456789") != std::string::npos) {
        return invalid(file, node, "rate_limit_per_minute: expected a whole number");
    }
    return static_cast<std::uint32_t>(std::stoul(node.value));
}

Result<Role> parseRole(const std::string& file, const YamlNode& node) {
    Role role;
    if (node.kind == YamlNode::Kind::Sequence) {
        if (auto r = grantList(file, node, role); !r) {
            return r.error();
        }
        return role;
    }
    if (node.kind != YamlNode::Kind::Mapping) {
        return invalid(file, node,
                       "expected a list of permissions or a mapping with "
                       "permissions and rate_limit_per_minute");
    }
    bool sawPermissions = false;
    for (const auto& [key, value] : node.entries) {
        if (key.value == "permissions") {
            sawPermissions = true;
            if (auto r = grantList(file, value, role); !r) {
                return r.error();
            }
        } else if (key.value == "rate_limit_per_minute") {
            auto limit = parseLimit(file, value);
            if (!limit) {
                return limit.error();
            }
            role.rateLimitPerMinute = *limit;
        } else {
            return invalid(file, key,
                           "unknown key '" + key.value.substr(0, 64) +
                               "' (known: permissions, rate_limit_per_minute)");
        }
    }
    if (!sawPermissions) {
        return invalid(file, node, "permissions: missing");
    }
    return role;
}

bool validRoleName(const std::string& name) {
    if (name.empty() || name.size() > 32) {
        return false;
    }
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

}  // namespace

const std::vector<Permission>& allPermissions() {
    static const std::vector<Permission> all = [] {
        std::vector<Permission> v;
        for (const auto& p : kPermissions) {
            v.push_back(p.permission);
        }
        return v;
    }();
    return all;
}

const char* permissionName(Permission permission) {
    return info(permission).name;
}

std::optional<Permission> parsePermission(const std::string& name) {
    for (const auto& p : kPermissions) {
        if (name == p.name) {
            return p.permission;
        }
    }
    return std::nullopt;
}

const char* polkitAction(Permission permission) {
    return info(permission).polkit;
}

RoleTable RoleTable::defaultTable() {
    using P = Permission;
    RoleTable table;
    table.roles_["admin"] = Role{{allPermissions().begin(), allPermissions().end()}, 0};
    table.roles_["researcher"] = Role{{P::JobsReadOwn, P::JobsSubmit, P::JobsCancelOwn,
                                       P::StoreRead, P::StoreUpload, P::KeysOwn, P::DataWriteOwn},
                                      0};
    table.roles_["viewer"] = Role{{P::JobsReadAny, P::StoreRead}, 0};
    return table;
}

Result<RoleTable> RoleTable::fromDocument(const std::optional<YamlNode>& doc,
                                          const std::string& name) {
    if (!doc || doc->kind != YamlNode::Kind::Mapping) {
        return makeError(ErrorCode::InvalidArgument,
                         name + ":1:1: expected a mapping with the key 'roles'");
    }
    RoleTable table;
    for (const auto& [key, value] : doc->entries) {
        if (key.value != "roles") {
            return invalid(name, key,
                           "unknown key '" + key.value.substr(0, 64) + "' (known: roles)");
        }
        if (value.kind != YamlNode::Kind::Mapping) {
            return invalid(name, value, "roles: expected a mapping of role names");
        }
        for (const auto& [roleName, roleNode] : value.entries) {
            if (!validRoleName(roleName.value)) {
                return invalid(name, roleName,
                               "role names are 1-32 characters of a-z, 0-9, '-', '_'");
            }
            auto role = parseRole(name, roleNode);
            if (!role) {
                return role.error();
            }
            table.roles_[roleName.value] = std::move(*role);
        }
    }
    if (table.roles_.empty()) {
        return makeError(ErrorCode::InvalidArgument, name + ": roles: no role is defined");
    }
    return table;
}

Result<RoleTable> RoleTable::parse(const std::string& text, const std::string& name) {
    YamlParser parser;
    auto doc = parser.parse(text, name);
    if (!doc) {
        return doc.error();
    }
    return fromDocument(*doc, name);
}

Result<RoleTable> RoleTable::load(const std::string& path) {
    auto doc = YamlParser::parseFile(path);
    if (!doc && doc.error().code == ErrorCode::NotFound) {
        return defaultTable();
    }
    if (!doc) {
        return doc.error();
    }
    return fromDocument(*doc, path);
}

const Role* RoleTable::find(const std::string& role) const {
    auto it = roles_.find(role);
    return it == roles_.end() ? nullptr : &it->second;
}

bool RoleTable::allows(const std::string& role, Permission permission) const {
    const Role* r = find(role);
    if (r == nullptr) {
        return false;
    }
    if (r->permissions.count(permission) != 0) {
        return true;
    }
    if (permission == Permission::JobsReadOwn) {
        return r->permissions.count(Permission::JobsReadAny) != 0;
    }
    if (permission == Permission::JobsCancelOwn) {
        return r->permissions.count(Permission::JobsCancelAny) != 0;
    }
    if (permission == Permission::DataWriteOwn) {
        return r->permissions.count(Permission::DataWriteAny) != 0;
    }
    return false;
}

bool RoleTable::isSubset(const std::string& inner, const std::string& outer) const {
    const Role* in = find(inner);
    if (in == nullptr || find(outer) == nullptr) {
        return false;
    }
    for (Permission p : in->permissions) {
        if (!allows(outer, p)) {
            return false;
        }
    }
    return true;
}

std::vector<std::string> RoleTable::names() const {
    std::vector<std::string> out;
    for (const auto& [name, role] : roles_) {
        out.push_back(name);
    }
    return out;
}

}  // namespace fetchml
