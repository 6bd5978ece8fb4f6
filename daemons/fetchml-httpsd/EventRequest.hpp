#pragma once
// EventRequest: the message protocol of the WebSocket at GET /v1/events
// (docs/architecture/decisions.md, "HTTPS API", /v1/events), without any I/O so it is
// unit-tested and fuzzed on its own (tests/unit/httpsd_EventRequest.cpp).
//
// Client -> server (optional text message, at most https.ws_max_message_bytes):
//   {"jobs": ["j000001", ...]}   only events of these jobs; {"jobs": null} or {} = every job
// Server -> client (text messages):
//   {"type":"ready","user":s,"role":s}                   once, right after the upgrade
//   {"type":"job","id":s,"state":s,"props":{...}}        a JobChanged signal of fetchmld
//   {"type":"subscribed","jobs":[s]|null}                answer to a valid client message
//   {"type":"error","error":{"code":s,"message":s}}      answer to an invalid one
// Which jobs a client may see: admin and viewer any job ("jobs.read.any"), every other role
// (researcher) only the jobs whose props.user is its own user ("jobs.read.own").

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/Result.hpp"
#include "proto/VariantJson.hpp"

namespace fetchml::edge {

/// The most job ids one subscription may name.
inline constexpr std::size_t kMaxEventJobs = 1000;

/// Which jobs a client asked for.
struct EventFilter {
    std::optional<std::set<std::string>> jobs;  ///< nullopt = every job the client may see

    /// Whether an event of job `id` passes the filter.
    bool wants(const std::string& id) const { return !jobs || jobs->count(id) > 0; }
};

/// Who is watching: the answer of fetchmld's Hello to the client's API key.
struct EventViewer {
    std::string user;  ///< user name
    std::string role;  ///< admin, researcher, viewer, ...
};

/// Parses a client message (UTF-8 JSON text). Errors (InvalidArgument): not JSON, not an
/// object, an unknown field ("unknown field 'x'"), "jobs" not an array of job ids or null
/// ("field 'jobs': ..."), more than kMaxEventJobs ids, an id that is not 1 to 128 characters of
/// [A-Za-z0-9._-].
Result<EventFilter> parseEventRequest(std::string_view text);

/// Whether `viewer` may see the events of a job owned by `owner` (see the file comment).
bool mayWatch(const EventViewer& viewer, const std::string& owner);

/// The server message {"type":"job","id","state","props"} of a JobChanged signal; props are
/// converted with VariantJson (a member that has no JSON form is left out). Never fails.
std::string jobEventMessage(const std::string& id, const std::string& state,
                            const VariantMap& props);

/// {"type":"ready","user","role"}.
std::string readyMessage(const EventViewer& viewer);
/// {"type":"subscribed","jobs":[...] or null}.
std::string subscribedMessage(const EventFilter& filter);
/// {"type":"error","error":{"code","message"}}.
std::string errorMessage(const Error& error);

}  // namespace fetchml::edge
