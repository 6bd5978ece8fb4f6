#include "HttpsTransport.hpp"

#include "ClientConfig.hpp"
#include "store/Pack.hpp"

namespace fetchml::ctl {

std::unique_ptr<Transport> makeHttpsTransport(const ClientConfig& config, bool insecure,
                                              Outcome& failure) {
    auto url = parseHttpsUrl(config.server);
    if (!url) {
        failure = usageFailure(url.error().message);
        return nullptr;
    }
    if (config.fingerprint.empty() && !insecure) {
        failure = usageFailure("no certificate fingerprint pinned for " + config.server +
                               ": pass --fingerprint, set FETCHML_FINGERPRINT or 'fingerprint:' "
                               "in client.yaml (fetchml-httpsd logs it at start), or --insecure");
        return nullptr;
    }
    if (config.apiKey.empty()) {
        failure = CtlFailure{
            ExitCode::Auth, "no API key for " + config.server +
                                ": set FETCHML_API_KEY or 'api_key:' in client.yaml (mode 0600); "
                                "an admin creates one with 'fetchmlctl user add NAME --role ROLE'"};
        return nullptr;
    }
    HttpsClientOptions httpsOptions;
    httpsOptions.host = url->host;
    httpsOptions.port = url->port;
    httpsOptions.fingerprint = config.fingerprint;
    httpsOptions.insecure = insecure && config.fingerprint.empty();
    auto client = HttpsClient::create(httpsOptions);
    if (!client) {
        failure = usageFailure(client.error().message);
        return nullptr;
    }
    (*client)->setBearerToken(config.apiKey);
    return std::make_unique<HttpsTransport>(std::move(*client));
}

namespace {

using nlohmann::json;

/// Percent-encodes a path segment or query value (RFC 3986 §2.1; unreserved characters stay).
std::string encode(const std::string& text) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    return out;
}

/// A string field of an answer, or Internal naming the route.
Result<std::string> stringField(const json& answer, const char* field, const std::string& route) {
    if (!answer.is_object() || !answer.contains(field) || !answer[field].is_string()) {
        return makeError(ErrorCode::Internal,
                         "the answer to " + route + " has no string field '" + field + "'");
    }
    return answer[field].get<std::string>();
}

/// POSTs {"hashes": hashes} to route and returns the answer's "missing" list (MissingBlobs,
/// MissingChunks); Internal naming the route when the answer has none.
Result<std::vector<std::string>> missingList(HttpsClient& client, const std::string& route,
                                             const std::vector<std::string>& hashes) {
    auto answer = client.requestJson(HttpMethod::Post, route, json{{"hashes", hashes}});
    if (!answer) {
        return answer.error();
    }
    if (!answer->is_object() || !answer->contains("missing") || !(*answer)["missing"].is_array()) {
        return makeError(ErrorCode::Internal, "the answer to " + route + " has no 'missing'");
    }
    std::vector<std::string> out;
    for (const auto& item : (*answer)["missing"]) {
        if (item.is_string()) {
            out.push_back(item.get<std::string>());
        }
    }
    return out;
}

/// GETs route and returns the answer's list under field (/v1/pins "pins", /v1/datasets
/// "datasets"); Internal naming the route when the answer has none.
Result<json> listOf(HttpsClient& client, const std::string& route, const char* field) {
    auto answer = client.requestJson(HttpMethod::Get, route);
    if (!answer) {
        return answer.error();
    }
    if (!answer->is_object() || !answer->contains(field) || !(*answer)[field].is_array()) {
        return makeError(ErrorCode::Internal,
                         "the answer to " + route + " has no '" + field + "' list");
    }
    return (*answer)[field];
}

}  // namespace

Result<json> HttpsTransport::addUser(const std::string& name, const std::string& role) {
    return client_->requestJson(HttpMethod::Post, "/v1/users",
                                json{{"name", name}, {"role", role}});
}

Result<json> HttpsTransport::hello() {
    return client_->requestJson(HttpMethod::Get, "/v1/whoami");
}

Result<json> HttpsTransport::createKey(const std::string& user, const std::string& role,
                                       std::int64_t expiresAt) {
    json body{{"role", role}, {"expires_at", expiresAt}};
    if (!user.empty()) {
        body["user"] = user;
    }
    return client_->requestJson(HttpMethod::Post, "/v1/keys", body);
}

Result<json> HttpsTransport::listKeys(const std::string& user) {
    return listOf(*client_, user.empty() ? "/v1/keys" : "/v1/keys?user=" + encode(user), "keys");
}

Result<json> HttpsTransport::revokeKey(const std::string& keyId) {
    return client_->requestJson(HttpMethod::Delete, "/v1/keys/" + encode(keyId));
}

Result<std::vector<std::string>> HttpsTransport::missingBlobs(
    const std::vector<std::string>& hashes) {
    return missingList(*client_, "/v1/blobs/missing", hashes);
}

Result<json> HttpsTransport::putBlobs(PackWriter& pack) {
    auto size = pack.packSize();
    if (!size) {
        return size.error();
    }
    return client_->uploadJson(
        "/v1/blobs", *size, "application/octet-stream",
        [&pack](const HttpsClient::Sink& sink) { return pack.writeTo(sink); });
}

Result<ChunksMissing> HttpsTransport::missingChunks(const std::vector<std::string>& hashes,
                                                    const std::vector<std::string>& bases) {
    const std::string route = "/v1/chunks/missing";
    json body{{"hashes", hashes}};
    if (!bases.empty()) {
        body["bases"] = bases;
    }
    auto answer = client_->requestJson(HttpMethod::Post, route, body);
    if (!answer) {
        return answer.error();
    }
    ChunksMissing out;
    for (auto [field, list] :
         {std::pair{"missing", &out.missing}, std::pair{"bases_missing", &out.basesMissing}}) {
        if (!answer->is_object() || !answer->contains(field) || !(*answer)[field].is_array()) {
            if (std::string(field) == "missing" || !bases.empty()) {
                return makeError(ErrorCode::Internal,
                                 "the answer to " + route + " has no '" + field + "'");
            }
            continue;
        }
        for (const auto& item : (*answer)[field]) {
            if (item.is_string()) {
                list->push_back(item.get<std::string>());
            }
        }
    }
    return out;
}

Result<json> HttpsTransport::putChunkedFile(const std::string& sha256, std::uint64_t size,
                                            const std::string& parts, const std::string& base) {
    json body{{"hash", sha256}, {"size", size}, {"chunks", parts}};
    if (!base.empty()) {
        body["base"] = base;
    }
    return client_->requestJson(HttpMethod::Post, "/v1/blobs/chunked", body);
}

Result<std::string> HttpsTransport::putManifest(const std::string& manifest) {
    auto answer =
        client_->requestJson(HttpMethod::Post, "/v1/commits", json{{"manifest", manifest}});
    if (!answer) {
        return answer.error();
    }
    return stringField(*answer, "commit", "/v1/commits");
}

Result<std::string> HttpsTransport::getManifest(const std::string& id) {
    std::string route = "/v1/commits/" + encode(id);
    auto answer = client_->requestJson(HttpMethod::Get, route);
    if (!answer) {
        return answer.error();
    }
    return stringField(*answer, "manifest", route);
}

Result<std::uint64_t> HttpsTransport::fetchBlob(const std::string& sha256, int fd) {
    return client_->download("/v1/blobs/" + encode(sha256), fd);
}

Result<json> HttpsTransport::submitJob(const json& request) {
    return client_->requestJson(HttpMethod::Post, "/v1/jobs", request);
}

Result<json> HttpsTransport::submitSweep(const json& request) {
    return client_->requestJson(HttpMethod::Post, "/v1/sweeps", request);
}

Result<json> HttpsTransport::cancelSweep(const std::string& id) {
    return client_->requestJson(HttpMethod::Post, "/v1/sweeps/" + encode(id) + "/cancel");
}

Result<json> HttpsTransport::pruneJobs(const json& request) {
    return client_->requestJson(HttpMethod::Post, "/v1/jobs/prune", request);
}

Result<json> HttpsTransport::addPin(const std::string& target, const std::string& note) {
    return client_->requestJson(HttpMethod::Post, "/v1/pins",
                                json{{"target", target}, {"note", note}});
}

Result<json> HttpsTransport::listPins() {
    return listOf(*client_, "/v1/pins", "pins");
}

Result<json> HttpsTransport::removePin(const std::string& target) {
    return client_->requestJson(HttpMethod::Delete, "/v1/pins/" + encode(target));
}

Result<json> HttpsTransport::addDatasetVersion(const std::string& name, const std::string& tree) {
    return client_->requestJson(HttpMethod::Post, "/v1/datasets",
                                json{{"name", name}, {"tree", tree}});
}

Result<json> HttpsTransport::listDatasets() {
    return listOf(*client_, "/v1/datasets", "datasets");
}

Result<json> HttpsTransport::getDataset(const std::string& ref) {
    return client_->requestJson(HttpMethod::Get, "/v1/datasets/" + encode(ref));
}

Result<json> HttpsTransport::removeDataset(const std::string& ref) {
    return client_->requestJson(HttpMethod::Delete, "/v1/datasets/" + encode(ref));
}

Result<json> HttpsTransport::getJob(const std::string& id) {
    return client_->requestJson(HttpMethod::Get, "/v1/jobs/" + encode(id));
}

Result<json> HttpsTransport::listJobs(const std::string& state, std::uint32_t limit,
                                      const std::string& before, const std::string& sweep) {
    std::string route = "/v1/jobs?limit=" + std::to_string(limit);
    if (!sweep.empty()) {
        route += "&sweep=" + encode(sweep);
    }
    if (!state.empty()) {
        route += "&state=" + encode(state);
    }
    if (!before.empty()) {
        route += "&before=" + encode(before);
    }
    auto answer = client_->requestJson(HttpMethod::Get, route);
    if (!answer) {
        return answer.error();
    }
    if (!answer->is_object() || !answer->contains("jobs") || !(*answer)["jobs"].is_array()) {
        return makeError(ErrorCode::Internal, "the answer to /v1/jobs has no 'jobs' list");
    }
    return (*answer)["jobs"];
}

Result<json> HttpsTransport::cancelJob(const std::string& id) {
    return client_->requestJson(HttpMethod::Post, "/v1/jobs/" + encode(id) + "/cancel");
}

Result<LogChunk> HttpsTransport::readLog(const std::string& id, std::uint64_t offset,
                                         std::uint32_t max) {
    std::string route = "/v1/jobs/" + encode(id) + "/logs?offset=" + std::to_string(offset) +
                        "&max=" + std::to_string(max);
    auto answer = client_->requestJson(HttpMethod::Get, route);
    if (!answer) {
        return answer.error();
    }
    auto data = stringField(*answer, "data", route);
    if (!data) {
        return data.error();
    }
    LogChunk chunk;
    chunk.data = std::move(*data);
    chunk.offset = answer->value("offset", offset + chunk.data.size());
    chunk.eof = answer->value("eof", false);
    return chunk;
}

Result<JobResults> HttpsTransport::jobResults(const std::string& id) {
    std::string route = "/v1/jobs/" + encode(id) + "/results";
    auto answer = client_->requestJson(HttpMethod::Get, route);
    if (!answer) {
        return answer.error();
    }
    auto results = stringField(*answer, "results", route);
    auto manifest = stringField(*answer, "manifest", route);
    if (!results) {
        return results.error();
    }
    if (!manifest) {
        return manifest.error();
    }
    return JobResults{std::move(*results), std::move(*manifest)};
}

}  // namespace fetchml::ctl
