#include "Router.hpp"

#include <array>
#include <vector>

#include "store/DatasetRef.hpp"

namespace fetchml::edge {

namespace {

bool isLowerHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool isSha256(std::string_view text) {
    if (text.size() != 64) {
        return false;
    }
    for (char c : text) {
        if (!isLowerHex(c)) {
            return false;
        }
    }
    return true;
}

bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool isId(std::string_view text) {
    if (text.empty() || text.size() > 128) {
        return false;
    }
    for (char c : text) {
        if (!isNameChar(c)) {
            return false;
        }
    }
    return text != "." && text != "..";
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t pos = text.find(sep, start);
        if (pos == std::string_view::npos) {
            parts.push_back(text.substr(start));
            return parts;
        }
        parts.push_back(text.substr(start, pos - start));
        start = pos + 1;
    }
}

/// What a parameter segment must be.
enum class Param { Id, Sha, Ref };

/// One row of the table: a path pattern ("*" = one parameter segment), the method, the route.
struct Row {
    std::string_view method;
    std::array<std::string_view, 4> pattern;
    std::size_t segments;
    Route route;
    Param param = Param::Id;
};

constexpr auto Id = Param::Id;
constexpr auto Sha = Param::Sha;
constexpr auto Ref = Param::Ref;

constexpr std::array<Row, 30> kTable{{
    {"GET", {"health"}, 1, Route::Health, Id},
    {"POST", {"v1", "blobs", "missing"}, 3, Route::BlobsMissing, Id},
    {"POST", {"v1", "blobs", "chunked"}, 3, Route::ChunkedPut, Id},
    {"POST", {"v1", "chunks", "missing"}, 3, Route::ChunksMissing, Id},
    {"POST", {"v1", "blobs"}, 2, Route::BlobsPut, Id},
    {"GET", {"v1", "blobs", "*"}, 3, Route::BlobGet, Sha},
    {"POST", {"v1", "commits"}, 2, Route::CommitPut, Id},
    {"GET", {"v1", "commits", "*"}, 3, Route::CommitGet, Sha},
    {"POST", {"v1", "jobs"}, 2, Route::JobSubmit, Id},
    {"GET", {"v1", "jobs"}, 2, Route::JobList, Id},
    {"POST", {"v1", "jobs", "prune"}, 3, Route::JobsPrune, Id},
    {"GET", {"v1", "jobs", "*"}, 3, Route::JobGet, Id},
    {"POST", {"v1", "jobs", "*", "cancel"}, 4, Route::JobCancel, Id},
    {"GET", {"v1", "jobs", "*", "logs"}, 4, Route::JobLogs, Id},
    {"GET", {"v1", "jobs", "*", "results"}, 4, Route::JobResults, Id},
    {"POST", {"v1", "users"}, 2, Route::UserAdd, Id},
    {"GET", {"v1", "events"}, 2, Route::Events, Id},
    {"POST", {"v1", "keys"}, 2, Route::KeyCreate, Id},
    {"GET", {"v1", "keys"}, 2, Route::KeyList, Id},
    {"DELETE", {"v1", "keys", "*"}, 3, Route::KeyRevoke, Id},
    {"GET", {"v1", "whoami"}, 2, Route::WhoAmI, Id},
    {"POST", {"v1", "sweeps"}, 2, Route::SweepSubmit, Id},
    {"POST", {"v1", "sweeps", "*", "cancel"}, 4, Route::SweepCancel, Id},
    {"POST", {"v1", "pins"}, 2, Route::PinAdd, Id},
    {"GET", {"v1", "pins"}, 2, Route::PinList, Id},
    {"DELETE", {"v1", "pins", "*"}, 3, Route::PinRemove, Sha},
    {"POST", {"v1", "datasets"}, 2, Route::DatasetAdd, Id},
    {"GET", {"v1", "datasets"}, 2, Route::DatasetList, Id},
    {"GET", {"v1", "datasets", "*"}, 3, Route::DatasetGet, Ref},
    {"DELETE", {"v1", "datasets", "*"}, 3, Route::DatasetRemove, Ref},
}};

/// Whether the decoded segments fit the row's pattern; the parameter goes to `param`.
bool fits(const Row& row, const std::vector<std::string>& segments, std::string& param) {
    if (segments.size() != row.segments) {
        return false;
    }
    for (std::size_t i = 0; i < row.segments; ++i) {
        if (row.pattern[i] == "*") {
            param = segments[i];
        } else if (row.pattern[i] != segments[i]) {
            return false;
        }
    }
    return true;
}

RouteError badRequest(std::string message) {
    return RouteError{400, makeError(ErrorCode::InvalidArgument, std::move(message)), ""};
}

}  // namespace

const char* routeName(Route route) {
    static constexpr std::array<const char*, 30> names{
        "Health",    "BlobsMissing",  "BlobsPut",    "BlobGet",     "CommitPut",
        "CommitGet", "JobSubmit",     "JobList",     "JobGet",      "JobCancel",
        "JobLogs",   "JobResults",    "UserAdd",     "Events",      "KeyCreate",
        "KeyList",   "KeyRevoke",     "WhoAmI",      "SweepSubmit", "SweepCancel",
        "JobsPrune", "ChunksMissing", "ChunkedPut",  "PinAdd",      "PinList",
        "PinRemove", "DatasetAdd",    "DatasetList", "DatasetGet",  "DatasetRemove"};
    return names.at(static_cast<std::size_t>(route));
}

Result<std::string> Router::percentDecode(std::string_view text, bool plusIsSpace) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            int hi = i + 2 < text.size() ? hexValue(text[i + 1]) : -1;
            int lo = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return makeError(ErrorCode::InvalidArgument,
                                 "bad percent-encoding in '" + std::string(text) + "'");
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plusIsSpace) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::variant<RouteMatch, RouteError> Router::match(std::string_view method,
                                                   std::string_view target) {
    std::size_t q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    if (path.empty() || path.front() != '/') {
        return badRequest("request target must start with '/'");
    }
    std::vector<std::string> segments;
    for (std::string_view raw : split(path.substr(1), '/')) {
        auto decoded = percentDecode(raw, false);
        if (!decoded) {
            return badRequest(decoded.error().message);
        }
        segments.push_back(std::move(decoded.value()));
    }
    if (segments.size() > 1 && segments.back().empty()) {
        segments.pop_back();  // "/v1/jobs/" is "/v1/jobs"
    }

    RouteMatch match;
    std::string allow;
    const Row* found = nullptr;
    for (const Row& row : kTable) {
        std::string param;
        if (!fits(row, segments, param)) {
            continue;
        }
        if (row.method != method) {
            allow += allow.empty() ? "" : ", ";
            allow += row.method;
            continue;
        }
        found = &row;
        match.param = std::move(param);
        break;
    }
    if (found == nullptr) {
        if (!allow.empty()) {
            return RouteError{405,
                              makeError(ErrorCode::InvalidArgument,
                                        "method " + std::string(method) + " is not allowed on " +
                                            std::string(path) + " (allowed: " + allow + ")"),
                              allow};
        }
        return RouteError{404, makeError(ErrorCode::NotFound, "no route for " + std::string(path)),
                          ""};
    }
    bool hasParam = found->pattern[2] == "*";
    if (hasParam && found->param == Param::Sha && !isSha256(match.param)) {
        return badRequest("'" + match.param + "' is not a SHA-256 (64 lowercase hex digits)");
    }
    if (hasParam && found->param == Param::Ref && !parseDatasetRef(match.param, "ref")) {
        return badRequest("'" + match.param +
                          "' is not a dataset reference (NAME or NAME@VERSION)");
    }
    if (hasParam && found->param == Param::Id && !isId(match.param)) {
        return badRequest("'" + match.param + "' is not a valid id");
    }
    for (std::string_view pair : split(query, '&')) {
        if (pair.empty()) {
            continue;
        }
        std::size_t eq = pair.find('=');
        auto key = percentDecode(pair.substr(0, eq), true);
        auto value = percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (!key || !value) {
            return badRequest(!key ? key.error().message : value.error().message);
        }
        match.query[key.value()] = value.value();
    }
    match.route = found->route;
    match.needsAuth = found->route != Route::Health;
    match.streamedBody = found->route == Route::BlobsPut;
    return match;
}

std::string Router::redactTarget(std::string_view target) {
    std::size_t q = target.find('?');
    if (q == std::string_view::npos) {
        return std::string(target);
    }
    std::string out(target.substr(0, q + 1));
    bool first = true;
    for (std::string_view pair : split(target.substr(q + 1), '&')) {
        std::size_t eq = pair.find('=');
        std::string key(pair.substr(0, eq));
        std::string lower;
        for (char c : key) {
            lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
        }
        bool secret = lower.find("key") != std::string::npos ||
                      lower.find("token") != std::string::npos ||
                      lower.find("secret") != std::string::npos ||
                      lower.find("password") != std::string::npos;
        out += first ? "" : "&";
        first = false;
        out += secret && eq != std::string_view::npos ? key + "=***" : std::string(pair);
    }
    return out;
}

std::string Router::bearerToken(std::string_view header) {
    auto trim = [](std::string_view text) {
        while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
            text.remove_prefix(1);
        }
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
            text.remove_suffix(1);
        }
        return text;
    };
    header = trim(header);
    constexpr std::string_view kScheme = "bearer";
    if (header.size() <= kScheme.size() + 1) {
        return "";
    }
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        char c = header[i];
        if (static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != kScheme[i]) {
            return "";
        }
    }
    if (header[kScheme.size()] != ' ') {
        return "";
    }
    std::string_view token = trim(header.substr(kScheme.size() + 1));
    for (char c : token) {
        // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
        if (!ok) {
            return "";
        }
    }
    return std::string(token);
}

}  // namespace fetchml::edge
