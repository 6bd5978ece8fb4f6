#pragma once
// IdMapRequest: one request to map ids into a user namespace, as rootless podman asks for it
// through newuidmap(1)/newgidmap(1) ("PID INSIDE OUTSIDE COUNT ..."), and its one-line wire form
// between fetchml-newidmap (the client podman runs) and fetchml-idmapd (the root helper).
//
// Wire form (one request per connection, both lines end in "\n", at most kMaxLineBytes):
//   request: "uid PID INSIDE OUTSIDE COUNT [INSIDE OUTSIDE COUNT ...]" (or "gid ...")
//   answer:  "ok" or "error MESSAGE"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// Which map of /proc/PID: uid_map or gid_map (user_namespaces(7)).
enum class IdKind { User, Group };

/// One line of a uid_map/gid_map: ids [inside, inside+count) in the namespace are ids
/// [outside, outside+count) outside it. Ids are 32-bit; 4294967295 is never a valid id.
struct IdMapping {
    std::uint32_t inside = 0;
    std::uint32_t outside = 0;
    std::uint32_t count = 0;
};

/// A whole request: the process whose user namespace gets the map, and the map.
struct IdMapRequest {
    IdKind kind = IdKind::User;
    pid_t pid = 0;
    std::vector<IdMapping> mappings;
};

/// Longest request or answer line, bytes (kMaxMappings triplets fit easily).
inline constexpr std::size_t kMaxLineBytes = 4096;
/// Most mappings in one request; the kernel takes 340 (user_namespaces(7)), podman sends 2.
inline constexpr std::size_t kMaxMappings = 64;

/// "uid" / "gid", and the tool name podman runs for the kind ("newuidmap" / "newgidmap").
const char* idKindName(IdKind kind);
const char* idKindTool(IdKind kind);

/// Parses newuidmap's arguments (after the program name): PID then triplets.
/// Errors: InvalidArgument naming the argument (its 1-based position) that is wrong, a
/// missing or extra number, a count of 0, a range past 4294967295, or overlapping ranges.
Result<IdMapRequest> parseIdMapArguments(IdKind kind, const std::vector<std::string>& args);

/// Parses a request line (without or with its "\n"). Errors: InvalidArgument as above, or
/// an unknown kind word.
Result<IdMapRequest> parseIdMapRequestLine(std::string_view line);

/// The request line for a request, ending in "\n".
std::string formatIdMapRequestLine(const IdMapRequest& request);

/// The content written to /proc/PID/uid_map or gid_map: one "INSIDE OUTSIDE COUNT\n" per
/// mapping, written in one write(2) as the kernel requires.
std::string formatIdMapFile(const std::vector<IdMapping>& mappings);

}  // namespace fetchml
