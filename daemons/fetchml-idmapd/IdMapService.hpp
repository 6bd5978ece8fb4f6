#pragma once
// serveIdMapConnection: one connection of fetchml-idmapd (socket-activated with Accept=yes,
// so each connection is its own short-lived process): read one request line, identify the
// caller with SO_PEERCRED, apply the map, answer "ok" or "error MESSAGE" (IdMapRequest.hpp).

#include "IdMapWriter.hpp"

namespace fetchml {

/// Serves the connected stream socket fd. Every request gets an answer and one log line
/// (caller, pid, map, outcome). Returns 0 when an answer was sent (also a refusal), 1 when
/// the connection itself failed (no peer credentials, read timeout of 5 s, write error).
int serveIdMapConnection(int fd, const SubIdFiles& files);

}  // namespace fetchml
