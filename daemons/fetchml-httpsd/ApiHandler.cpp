#include "ApiHandler.hpp"

#include <sys/stat.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "ErrorResponse.hpp"
#include "JsonBody.hpp"
#include "proto/VariantJson.hpp"

namespace fetchml::edge {

namespace {

using nlohmann::json;

ApiResponse jsonResponse(unsigned status, const json& body) {
    ApiResponse response;
    response.status = status;
    response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return response;
}

/// The JSON object of a request body as a{sv}; the api_key of the header and the client's
/// address always win.
Result<VariantMap> bodyRequest(const ApiRequest& request) {
    auto call = jsonBodyRequest(request.body, request.apiKey);
    if (call && !request.remoteAddr.empty()) {
        call.value()["remote_addr"] = sdbus::Variant(request.remoteAddr);
    }
    return call;
}

/// A request with only the client's key and address (for fetchmld's audit log).
VariantMap keyOnly(const ApiRequest& request) {
    VariantMap call{{"api_key", sdbus::Variant(request.apiKey)}};
    if (!request.remoteAddr.empty()) {
        call["remote_addr"] = sdbus::Variant(request.remoteAddr);
    }
    return call;
}

/// A decimal query parameter; absent gives std::nullopt.
Result<std::optional<std::uint64_t>> queryNumber(const ApiRequest& request, const char* name,
                                                 std::uint64_t max) {
    auto it = request.match.query.find(name);
    if (it == request.match.query.end()) {
        return std::optional<std::uint64_t>{};
    }
    const std::string& text = it->second;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > max) {
        return makeError(ErrorCode::InvalidArgument, std::string("query parameter '") + name +
                                                         "' must be a number from 0 to " +
                                                         std::to_string(max));
    }
    return std::optional<std::uint64_t>{value};
}

/// A reply dictionary as the JSON answer.
ApiResponse replyResponse(unsigned status, const Result<VariantMap>& reply) {
    if (!reply) {
        return ApiResponse::fromError(reply.error());
    }
    auto body = variantMapToJson(reply.value());
    if (!body) {
        return ApiResponse::fromError(makeError(ErrorCode::Internal, body.error().message));
    }
    return jsonResponse(status, body.value());
}

ApiResponse listJobs(const ApiRequest& request, SchedulerProxy& proxy) {
    VariantMap call = keyOnly(request);
    for (const char* field : {"state", "before", "sweep"}) {
        if (auto it = request.match.query.find(field); it != request.match.query.end()) {
            call[field] = sdbus::Variant(it->second);
        }
    }
    auto limit = queryNumber(request, "limit", UINT32_MAX);
    if (!limit) {
        return ApiResponse::fromError(limit.error());
    }
    if (limit->has_value()) {
        call["limit"] = sdbus::Variant(static_cast<std::uint32_t>(**limit));
    }
    auto jobs = proxy.listJobs(call);
    if (!jobs) {
        return ApiResponse::fromError(jobs.error());
    }
    json list = json::array();
    for (const auto& job : jobs.value()) {
        auto item = variantMapToJson(job);
        if (!item) {
            return ApiResponse::fromError(makeError(ErrorCode::Internal, item.error().message));
        }
        list.push_back(std::move(item.value()));
    }
    return jsonResponse(200, json{{"jobs", std::move(list)}});
}

ApiResponse listKeys(const ApiRequest& request, SchedulerProxy& proxy) {
    VariantMap call = keyOnly(request);
    if (auto it = request.match.query.find("user"); it != request.match.query.end()) {
        call["user"] = sdbus::Variant(it->second);
    }
    auto keys = proxy.listKeys(call);
    if (!keys) {
        return ApiResponse::fromError(keys.error());
    }
    json list = json::array();
    for (const auto& key : keys.value()) {
        auto item = variantMapToJson(key);
        if (!item) {
            return ApiResponse::fromError(makeError(ErrorCode::Internal, item.error().message));
        }
        list.push_back(std::move(item.value()));
    }
    return jsonResponse(200, json{{"keys", std::move(list)}});
}

ApiResponse readLog(const ApiRequest& request, SchedulerProxy& proxy) {
    VariantMap call = keyOnly(request);
    call["id"] = sdbus::Variant(request.match.param);
    auto offset = queryNumber(request, "offset", INT64_MAX);
    auto max = queryNumber(request, "max", UINT32_MAX);
    if (!offset || !max) {
        return ApiResponse::fromError(!offset ? offset.error() : max.error());
    }
    if (offset->has_value()) {
        call["offset"] = sdbus::Variant(static_cast<std::uint64_t>(**offset));
    }
    if (max->has_value()) {
        call["max"] = sdbus::Variant(static_cast<std::uint32_t>(**max));
    }
    return replyResponse(200, proxy.call("ReadLog", call));
}

ApiResponse openBlob(const ApiRequest& request, SchedulerProxy& proxy) {
    VariantMap call = keyOnly(request);
    call["hash"] = sdbus::Variant(request.match.param);
    auto fd = proxy.openBlob(call);
    if (!fd) {
        return ApiResponse::fromError(fd.error());
    }
    ApiResponse response;
    response.file.reset(fd.value());
    struct stat st {};
    if (::fstat(response.file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return ApiResponse::fromError(
            makeError(ErrorCode::Internal, "the scheduler returned an unusable blob descriptor"));
    }
    response.fileSize = static_cast<std::uint64_t>(st.st_size);
    response.contentType = "application/octet-stream";
    return response;
}

ApiResponse jobResults(const ApiRequest& request, SchedulerProxy& proxy) {
    VariantMap call = keyOnly(request);
    call["id"] = sdbus::Variant(request.match.param);
    auto job = proxy.call("GetJob", call);
    if (!job) {
        return ApiResponse::fromError(job.error());
    }
    auto results = getString(job.value(), "results", "");
    if (!results || results->empty()) {
        return ApiResponse::fromError(
            makeError(ErrorCode::NotFound, "the results of job " + request.match.param +
                                               " are not ingested yet (the job has not finished)"));
    }
    VariantMap get = keyOnly(request);
    get["commit"] = sdbus::Variant(results.value());
    auto manifest = proxy.call("GetManifest", get);
    if (!manifest) {
        return ApiResponse::fromError(manifest.error());
    }
    auto text = getString(manifest.value(), "manifest");
    if (!text) {
        return ApiResponse::fromError(makeError(ErrorCode::Internal, text.error().message));
    }
    return jsonResponse(200, json{{"results", results.value()}, {"manifest", text.value()}});
}

/// Routes whose request is the JSON body and whose answer is the reply dictionary.
ApiResponse bodyCall(const ApiRequest& request, SchedulerProxy& proxy, const char* method,
                     unsigned status) {
    auto call = bodyRequest(request);
    if (!call) {
        return ApiResponse::fromError(call.error());
    }
    return replyResponse(status, proxy.call(method, call.value()));
}

/// Routes whose request is the path parameter under `field`.
ApiResponse paramCall(const ApiRequest& request, SchedulerProxy& proxy, const char* method,
                      const char* field) {
    VariantMap call = keyOnly(request);
    call[field] = sdbus::Variant(request.match.param);
    return replyResponse(200, proxy.call(method, call));
}

}  // namespace

ApiResponse ApiResponse::fromError(const Error& error) {
    ApiResponse response;
    auto http = ErrorResponse::from(error);
    response.status = http.status;
    response.body = std::move(http.body);
    if (response.status >= 500) {
        response.failure = error.message;
    }
    return response;
}

ApiResponse ApiHandler::health() {
    return jsonResponse(200, json{{"status", "ok"}});
}

ApiResponse ApiHandler::handle(ApiRequest& request, SchedulerProxy& proxy) {
    if (!request.learnRateLimit || request.match.route == Route::Health) {
        return route(request, proxy);
    }
    // The key's role limit, once per key and 5 minutes; a refused key ends here.
    auto hello = proxy.call("Hello", keyOnly(request));
    if (!hello) {
        return ApiResponse::fromError(hello.error());
    }
    auto limit = getUInt64(hello.value(), "rate_limit_per_minute", 0);
    ApiResponse response = route(request, proxy);
    response.rateLimitPerMinute =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(limit ? *limit : 0, UINT32_MAX));
    return response;
}

ApiResponse ApiHandler::route(ApiRequest& request, SchedulerProxy& proxy) {
    switch (request.match.route) {
        case Route::Health:
            return health();
        case Route::BlobsMissing:
            return bodyCall(request, proxy, "MissingBlobs", 200);
        case Route::BlobsPut:
            return replyResponse(200, proxy.putBlobs(keyOnly(request), request.upload.get()));
        case Route::BlobGet:
            return openBlob(request, proxy);
        case Route::ChunksMissing:
            return bodyCall(request, proxy, "MissingChunks", 200);
        case Route::ChunkedPut:
            return bodyCall(request, proxy, "PutChunkedFile", 201);
        case Route::CommitPut:
            return bodyCall(request, proxy, "PutManifest", 201);
        case Route::CommitGet:
            return paramCall(request, proxy, "GetManifest", "commit");
        case Route::JobSubmit:
            return bodyCall(request, proxy, "SubmitJob", 201);
        case Route::JobList:
            return listJobs(request, proxy);
        case Route::JobGet:
            return paramCall(request, proxy, "GetJob", "id");
        case Route::JobCancel:
            return paramCall(request, proxy, "CancelJob", "id");
        case Route::JobLogs:
            return readLog(request, proxy);
        case Route::JobResults:
            return jobResults(request, proxy);
        case Route::UserAdd:
            return bodyCall(request, proxy, "AddUser", 201);
        case Route::KeyCreate:
            return bodyCall(request, proxy, "CreateKey", 201);
        case Route::KeyList:
            return listKeys(request, proxy);
        case Route::KeyRevoke:
            return paramCall(request, proxy, "RevokeKey", "key_id");
        case Route::WhoAmI:
            return replyResponse(200, proxy.call("Hello", keyOnly(request)));
        case Route::SweepSubmit:
            return bodyCall(request, proxy, "SubmitSweep", 201);
        case Route::SweepCancel:
            return paramCall(request, proxy, "CancelSweep", "sweep");
        case Route::JobsPrune:
            return bodyCall(request, proxy, "PruneJobs", 200);
        case Route::PinAdd:
            return bodyCall(request, proxy, "AddPin", 201);
        case Route::PinList:
            return replyResponse(200, proxy.call("ListPins", keyOnly(request)));
        case Route::PinRemove:
            return paramCall(request, proxy, "RemovePin", "target");
        case Route::DatasetAdd:
            return bodyCall(request, proxy, "AddDatasetVersion", 201);
        case Route::DatasetList:
            return replyResponse(200, proxy.call("ListDatasets", keyOnly(request)));
        case Route::DatasetGet:
            return paramCall(request, proxy, "GetDataset", "ref");
        case Route::DatasetRemove:
            return paramCall(request, proxy, "RemoveDataset", "ref");
        case Route::Events:
            break;  // a WebSocket upgrade: HttpServer hands it to an EventSocket
    }
    return ApiResponse::fromError(makeError(ErrorCode::Internal, "unhandled route"));
}

}  // namespace fetchml::edge
