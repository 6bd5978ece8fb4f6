#pragma once
// Router: the HTTPS route table of docs/architecture/decisions.md ("HTTPS API") as pure data.
// It maps a method and a request target onto a route, its path parameter and its query,
// without any I/O, so it is unit-tested on its own (tests/unit/httpsd_Router.cpp).

#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "core/Result.hpp"

namespace fetchml::edge {

/// Every route of the table.
enum class Route {
    Health,         ///< GET /health (no authentication)
    BlobsMissing,   ///< POST /v1/blobs/missing
    BlobsPut,       ///< POST /v1/blobs (streamed blob pack)
    BlobGet,        ///< GET /v1/blobs/<sha256>
    CommitPut,      ///< POST /v1/commits
    CommitGet,      ///< GET /v1/commits/<id>
    JobSubmit,      ///< POST /v1/jobs
    JobList,        ///< GET /v1/jobs
    JobGet,         ///< GET /v1/jobs/<id>
    JobCancel,      ///< POST /v1/jobs/<id>/cancel
    JobLogs,        ///< GET /v1/jobs/<id>/logs
    JobResults,     ///< GET /v1/jobs/<id>/results
    UserAdd,        ///< POST /v1/users
    Events,         ///< GET /v1/events (WebSocket upgrade, EventSocket)
    KeyCreate,      ///< POST /v1/keys
    KeyList,        ///< GET /v1/keys
    KeyRevoke,      ///< DELETE /v1/keys/<id>
    WhoAmI,         ///< GET /v1/whoami (Hello)
    SweepSubmit,    ///< POST /v1/sweeps (SubmitSweep)
    SweepCancel,    ///< POST /v1/sweeps/<id>/cancel (CancelSweep)
    JobsPrune,      ///< POST /v1/jobs/prune (PruneJobs)
    ChunksMissing,  ///< POST /v1/chunks/missing (MissingChunks)
    ChunkedPut,     ///< POST /v1/blobs/chunked (PutChunkedFile)
    PinAdd,         ///< POST /v1/pins (AddPin)
    PinList,        ///< GET /v1/pins (ListPins)
    PinRemove,      ///< DELETE /v1/pins/<sha256> (RemovePin)
    DatasetAdd,     ///< POST /v1/datasets (AddDatasetVersion)
    DatasetList,    ///< GET /v1/datasets (ListDatasets)
    DatasetGet,     ///< GET /v1/datasets/<ref> (GetDataset)
    DatasetRemove,  ///< DELETE /v1/datasets/<ref> (RemoveDataset)
};

/// Name of a route for logs ("JobGet").
const char* routeName(Route route);

/// A matched request.
struct RouteMatch {
    Route route = Route::Health;
    std::string param;                         ///< the <sha256>, <id> or <ref> of the path, or ""
    std::map<std::string, std::string> query;  ///< decoded query parameters (last one wins)
    bool needsAuth = true;                     ///< false only for /health
    bool streamedBody = false;                 ///< true for POST /v1/blobs (spooled to a file)
};

/// A request that matches no route: the HTTP status (400, 404 or 405), the error for the JSON
/// body and, for 405, the value of the Allow header (RFC 9110 §15.5.6).
struct RouteError {
    unsigned status = 404;
    Error error;
    std::string allow;
};

/// The route table.
class Router {
public:
    /// Matches `method` (e.g. "GET") and `target` (origin-form, RFC 9112 §3.2.1, e.g.
    /// "/v1/jobs?state=queued&limit=10"). Path segments and query values are percent-decoded
    /// (RFC 3986 §2.1; '+' in a query means a space). A <sha256> must be 64 lowercase hex
    /// digits, an <id> 1 to 128 characters of [A-Za-z0-9._-], and a dataset <ref> "NAME" or
    /// "NAME@VERSION" (NAME 1 to 64 of [A-Za-z0-9._-] starting with a letter or digit,
    /// VERSION 1 to 18 decimal digits; '@' may come as is or as %40), else 400.
    /// Unknown paths give 404, a known path with another method 405.
    static std::variant<RouteMatch, RouteError> match(std::string_view method,
                                                      std::string_view target);

    /// Percent-decodes `text` (RFC 3986 §2.1); with plusIsSpace '+' becomes ' ' (HTML form
    /// encoding, used in queries). Errors: InvalidArgument on a bad or NUL escape.
    static Result<std::string> percentDecode(std::string_view text, bool plusIsSpace);

    /// The target without query values that may carry secrets, for the access log: the path,
    /// then the query with the values of parameters named like a key or token replaced by
    /// "***" (e.g. "/v1/jobs?limit=5&api_key=***").
    static std::string redactTarget(std::string_view target);

    /// The credentials of an "Authorization: Bearer <token>" header value (RFC 6750 §2.1; the
    /// scheme is case-insensitive, RFC 9110 §11.1); "" when the value is not of that form.
    static std::string bearerToken(std::string_view header);
};

}  // namespace fetchml::edge
