#pragma once
// SubIdPolicy: which outside ids a user may map into a user namespace, by the rules of
// shadow's newuidmap(1)/newgidmap(1): the user's own id (a range of 1), or ids inside one of
// the user's ranges in /etc/subuid or /etc/subgid (subuid(5), subgid(5)).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "IdMapRequest.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// One subordinate id range: ids [start, start+count).
struct SubIdRange {
    std::uint32_t start = 0;
    std::uint32_t count = 0;
};

/// The ranges of one user in the text of /etc/subuid or /etc/subgid: lines
/// "NAME_OR_ID:START:COUNT"; an entry counts when its first field is the user's name or the
/// decimal id. Blank lines, "#" comments and malformed lines are skipped, as shadow does.
std::vector<SubIdRange> subIdRangesFor(std::string_view fileText, const std::string& userName,
                                       std::uint32_t id);

/// Checks every mapping's outside range: either exactly the caller's own id with count 1,
/// or contained in one of ranges. `file` names the subid file in the error.
/// Errors: PermissionDenied naming the first mapping (1-based) that is not allowed.
Result<void> checkIdMappings(const std::vector<IdMapping>& mappings, std::uint32_t ownId,
                             const std::vector<SubIdRange>& ranges, const std::string& file);

}  // namespace fetchml
