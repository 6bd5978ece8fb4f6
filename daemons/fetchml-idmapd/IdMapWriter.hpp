#pragma once
// applyIdMap: writes a checked uid_map/gid_map into another process's user namespace on
// behalf of a local caller; the privileged half of fetchml-idmapd (fetchml-idmapd(8)).

#include <sys/types.h>

#include <string>

#include "IdMapRequest.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Who asked, from SO_PEERCRED (unix(7)) and the passwd database.
struct IdMapCaller {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string userName;  ///< "" when the uid has no passwd entry
};

/// Where the subordinate id files are (subuid(5), subgid(5)); tests point elsewhere.
struct SubIdFiles {
    std::string subuid = "/etc/subuid";
    std::string subgid = "/etc/subgid";
};

/// Applies request for caller, with the checks of shadow's newuidmap(1): /proc/PID must
/// belong to the caller (owner uid, and for a gid map also owner gid), and every outside
/// range must be the caller's own id or inside the caller's ranges in the subid file. The
/// kernel adds its own rules (user_namespaces(7)): a map is written once, and only for a
/// namespace whose parent is the helper's. The map is written through a directory descriptor
/// of /proc/PID opened before the checks, so a pid reused meanwhile fails instead of being
/// mapped. The map file is opened with the caller's uid as effective uid (the namespace's
/// owner) and the helper's capabilities: needs only CAP_SETUID and CAP_SETGID, real uid 0.
/// Errors: NotFound (no such process), PermissionDenied (not the caller's process, or ids
/// not allowed), Internal (subid file unreadable, or the kernel refused the write, e.g. the
/// map was already written or the process shares the helper's namespace; with strerror).
Result<void> applyIdMap(const IdMapRequest& request, const IdMapCaller& caller,
                        const SubIdFiles& files);

}  // namespace fetchml
