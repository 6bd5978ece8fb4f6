#pragma once
// PolkitAuthority: asks polkit whether a local D-Bus caller may perform an action
// (org.freedesktop.PolicyKit1.Authority.CheckAuthorization, polkit(8), "Authority" D-Bus
// interface). The subject is the caller's unique bus name ("system-bus-name"), so polkit
// itself resolves its uid and process; no interaction is allowed (a daemon cannot show a
// password prompt), so "auth_admin" defaults mean "no".

#include <sdbus-c++/sdbus-c++.h>

#include <memory>
#include <optional>
#include <string>

#include "core/Result.hpp"

namespace fetchml {

/// polkit's answer.
enum class PolkitAnswer {
    Yes,
    No,
    Unavailable,  ///< polkit is not on this bus (development stack): callers fall back
};

/// A client of polkit on the connection fetchmld serves on.
class PolkitAuthority {
public:
    /// Borrows connection (must outlive this object).
    explicit PolkitAuthority(sdbus::IConnection& connection);
    ~PolkitAuthority();
    PolkitAuthority(const PolkitAuthority&) = delete;
    PolkitAuthority& operator=(const PolkitAuthority&) = delete;

    /// Whether the caller with unique bus name `sender` (":1.42") may do `actionId`
    /// ("org.fetchml.admin"). Unavailable when polkit has no owner on the bus; Errors:
    /// Internal when polkit answers with an error or not within 10 s.
    Result<PolkitAnswer> check(const std::string& sender, const std::string& actionId);

private:
    std::unique_ptr<sdbus::IProxy> proxy_;
};

}  // namespace fetchml
