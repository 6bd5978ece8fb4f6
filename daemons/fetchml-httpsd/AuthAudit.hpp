#pragma once
// AuthAudit: the audit events of the authentication results fetchml-httpsd sees
// (docs/security.md "Audit log"; common/core/Audit.hpp). fetchmld alone verifies keys, so the
// edge learns the result from the answer: 401 (its own for a missing or malformed
// Authorization header, or fetchmld's Unauthenticated) is a failure; a state-changing request
// (POST, PUT, PATCH, DELETE) that fetchmld answered 2xx or 403 is a success. Successful reads
// (GET) are not audited here: clients poll them many times a minute, and fetchmld records
// every permission decision itself.
//
// Messages start with a fixed text and the client address before anything a client chose,
// so a log filter (configs/fail2ban/filter.d/fetchml.conf) anchored on
// "authentication failed from <address>: " cannot be fooled by request content:
//   authentication failed from <addr>: <reason>
//   authenticated from <addr>: key <key id>, <METHOD> <path> answered <status>
// The secret part of a key never appears; a reason that quotes the key is redacted.

#include <optional>
#include <string>
#include <string_view>

#include "core/Audit.hpp"

namespace fetchml::edge {

/// Audit events of answered requests.
class AuthAudit {
public:
    /// The event for one answered request, or std::nullopt when it is not audited.
    /// `authorization` is the raw Authorization header ("" when absent); `path` the request
    /// target (the query is left out); `replyBody` the JSON answer, whose error message is the
    /// failure's reason. Action "auth", result "failed" or "ok", remoteAddr `peer`.
    static std::optional<AuditEvent> forRequest(std::string_view method, std::string_view path,
                                                std::string_view authorization,
                                                const std::string& peer, unsigned status,
                                                std::string_view replyBody);

    /// forRequest(), then audit() the event if there is one. Never throws.
    static void record(std::string_view method, std::string_view path,
                       std::string_view authorization, const std::string& peer, unsigned status,
                       std::string_view replyBody);
};

}  // namespace fetchml::edge
