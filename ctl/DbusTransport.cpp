#include "DbusTransport.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dbus/Scheduler1Proxy.h"
#include "proto/VariantJson.hpp"
#include "store/Pack.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

using nlohmann::json;

/// The generated proxy bound to fetchmld's object. registerProxy() is never called: these
/// calls use no signal, and a registered proxy would subscribe this connection to every
/// JobChanged (an AddMatch round trip per command, and dbus-daemon copying each signal of a
/// 1,000-job sweep to every fetchmlctl running at the time).
class SchedulerProxy : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit SchedulerProxy(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, "org.fetchml.Scheduler1", "/org/fetchml/Scheduler1") {}

    /// PruneJobs with its own time-out: the answer comes once the store's collection is
    /// complete, which may take longer on a large store than sd-bus's default 25 s.
    std::map<std::string, sdbus::Variant> PruneJobsWithin(
        const std::map<std::string, sdbus::Variant>& request, std::chrono::seconds timeout) {
        std::map<std::string, sdbus::Variant> reply;
        getProxy()
            .callMethod("PruneJobs")
            .onInterface(INTERFACE_NAME)
            .withTimeout(timeout)
            .withArguments(request)
            .storeResultsTo(reply);
        return reply;
    }

    /// A new call of `method` on fetchmld's object, to be written by hand (submitSweep).
    sdbus::MethodCall newCall(const char* method) {
        return getProxy().createMethodCall(INTERFACE_NAME, method);
    }
    /// Sends a call written by hand and waits for its reply (sd-bus's default time-out, 25 s).
    /// Throws sdbus::Error with the server's error.
    sdbus::MethodReply send(const sdbus::MethodCall& call) { return getProxy().callMethod(call); }

private:
    void onJobChanged(const std::string&, const std::string&,
                      const std::map<std::string, sdbus::Variant>&) override {}
};

namespace {

template <typename T>
struct AsResult {
    using Type = Result<T>;
};
template <typename T>
struct AsResult<Result<T>> {
    using Type = Result<T>;
};

/// Runs one D-Bus call, turning sdbus-c++ exceptions into Errors (the sdbus-c++ boundary).
/// A call that returns a Result already is passed through unchanged.
template <typename F>
auto guarded(F&& call) -> typename AsResult<decltype(call())>::Type {
    try {
        return call();
    } catch (const sdbus::Error& e) {
        return DbusTransport::fromDbusError(e.getName(), e.getMessage());
    }
}

/// An unlinked temporary file for a pack: O_TMPFILE where supported, else mkstemp + unlink.
Result<UniqueFd> unlinkedTempFile() {
    const char* env = std::getenv("TMPDIR");
    std::string dir = env != nullptr && *env != '\0' ? env : "/tmp";
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) {
        return fd;
    }
    std::string name = dir + "/fetchmlctl-pack-XXXXXX";
    fd.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) {
        return makeError(ErrorCode::Internal,
                         "cannot create a temporary file in " + dir + ": " + std::strerror(errno));
    }
    ::unlink(name.c_str());
    return fd;
}

std::string str(const std::map<std::string, sdbus::Variant>& dict, const char* key) {
    auto it = dict.find(key);
    return it == dict.end() ? std::string() : it->second.get<std::string>();
}

/// The "missing" list of a MissingBlobs or MissingChunks reply (empty when absent).
std::vector<std::string> missingList(const VariantMap& reply) {
    auto it = reply.find("missing");
    return it == reply.end() ? std::vector<std::string>{}
                             : it->second.get<std::vector<std::string>>();
}

/// The list under field of a reply (ListPins "pins", ListDatasets "datasets"); Internal naming
/// the method when the answer has none.
Result<json> listOf(const Result<json>& answer, const char* field, const char* method) {
    if (!answer) {
        return answer.error();
    }
    if (!answer->contains(field) || !(*answer)[field].is_array()) {
        return makeError(ErrorCode::Internal,
                         std::string("the answer to ") + method + " has no '" + field + "' list");
    }
    return (*answer)[field];
}

}  // namespace

Error DbusTransport::fromDbusError(const std::string& name, const std::string& message) {
    if (name.rfind("org.fetchml.Error.", 0) == 0) {
        return makeError(errorCodeFromDbusName(name), message);
    }
    if (name == "org.freedesktop.DBus.Error.AccessDenied") {
        return makeError(ErrorCode::PermissionDenied,
                         "the system bus refused the call: " + message);
    }
    return makeError(ErrorCode::Internal, "cannot reach fetchmld on the system bus: " + message);
}

DbusTransport::DbusTransport(std::unique_ptr<sdbus::IConnection> connection, std::string apiKey)
    : connection_(std::move(connection)),
      proxy_(std::make_unique<SchedulerProxy>(*connection_)),
      apiKey_(std::move(apiKey)) {}

DbusTransport::~DbusTransport() = default;

Result<std::unique_ptr<DbusTransport>> DbusTransport::create(const std::string& apiKey) {
    try {
        auto connection = sdbus::createSystemBusConnection();
        return std::unique_ptr<DbusTransport>(new DbusTransport(std::move(connection), apiKey));
    } catch (const sdbus::Error& e) {
        return makeError(ErrorCode::Internal,
                         "cannot connect to the system bus: " + e.getMessage());
    }
}

DbusTransport::Dict DbusTransport::request() const {
    Dict dict;
    if (!apiKey_.empty()) {
        dict["api_key"] = sdbus::Variant(apiKey_);
    }
    return dict;
}

Result<json> DbusTransport::addUser(const std::string& name, const std::string& role) {
    return guarded([&] {
        auto req = request();
        req["name"] = sdbus::Variant(name);
        req["role"] = sdbus::Variant(role);
        return variantMapToJson(proxy_->AddUser(req));
    });
}

Result<json> DbusTransport::hello() {
    return guarded([&] { return variantMapToJson(proxy_->Hello(request())); });
}

Result<json> DbusTransport::createKey(const std::string& user, const std::string& role,
                                      std::int64_t expiresAt) {
    return guarded([&] {
        auto req = request();
        if (!user.empty()) {
            req["user"] = sdbus::Variant(user);
        }
        req["role"] = sdbus::Variant(role);
        req["expires_at"] = sdbus::Variant(expiresAt);
        return variantMapToJson(proxy_->CreateKey(req));
    });
}

Result<json> DbusTransport::listKeys(const std::string& user) {
    return guarded([&] {
        auto req = request();
        if (!user.empty()) {
            req["user"] = sdbus::Variant(user);
        }
        json out = json::array();
        for (const auto& key : proxy_->ListKeys(req)) {
            auto converted = variantMapToJson(key);
            if (!converted) {
                return Result<json>(converted.error());
            }
            out.push_back(std::move(converted.value()));
        }
        return Result<json>(std::move(out));
    });
}

Result<json> DbusTransport::revokeKey(const std::string& keyId) {
    return guarded([&] {
        auto req = request();
        req["key_id"] = sdbus::Variant(keyId);
        return variantMapToJson(proxy_->RevokeKey(req));
    });
}

Result<std::vector<std::string>> DbusTransport::missingBlobs(
    const std::vector<std::string>& hashes) {
    return guarded([&] {
        auto req = request();
        req["hashes"] = sdbus::Variant(hashes);
        return missingList(proxy_->MissingBlobs(req));
    });
}

Result<ChunksMissing> DbusTransport::missingChunks(const std::vector<std::string>& hashes,
                                                   const std::vector<std::string>& bases) {
    return guarded([&] {
        auto req = request();
        req["hashes"] = sdbus::Variant(hashes);
        if (!bases.empty()) {
            req["bases"] = sdbus::Variant(bases);
        }
        auto reply = proxy_->MissingChunks(req);
        ChunksMissing out{missingList(reply), {}};
        if (auto it = reply.find("bases_missing"); it != reply.end()) {
            out.basesMissing = it->second.get<std::vector<std::string>>();
        }
        return out;
    });
}

Result<json> DbusTransport::putChunkedFile(const std::string& sha256, std::uint64_t size,
                                           const std::string& parts, const std::string& base) {
    return guarded([&] {
        auto req = request();
        req["hash"] = sdbus::Variant(sha256);
        req["size"] = sdbus::Variant(size);
        req["chunks"] = sdbus::Variant(parts);
        if (!base.empty()) {
            req["base"] = sdbus::Variant(base);
        }
        return variantMapToJson(proxy_->PutChunkedFile(req));
    });
}

Result<json> DbusTransport::putBlobs(PackWriter& pack) {
    auto fd = unlinkedTempFile();
    if (!fd) {
        return fd.error();
    }
    if (auto written = pack.writeTo(fd->get()); !written) {
        return written.error();
    }
    return guarded(
        [&] { return variantMapToJson(proxy_->PutBlobs(request(), sdbus::UnixFd(fd->get()))); });
}

Result<std::string> DbusTransport::putManifest(const std::string& manifest) {
    return guarded([&] {
        auto req = request();
        req["manifest"] = sdbus::Variant(manifest);
        return str(proxy_->PutManifest(req), "commit");
    });
}

Result<std::string> DbusTransport::getManifest(const std::string& id) {
    return guarded([&] {
        auto req = request();
        req["commit"] = sdbus::Variant(id);
        return str(proxy_->GetManifest(req), "manifest");
    });
}

Result<std::uint64_t> DbusTransport::fetchBlob(const std::string& sha256, int fd) {
    auto blob = guarded([&] {
        auto req = request();
        req["hash"] = sdbus::Variant(sha256);
        return proxy_->OpenBlob(req);
    });
    if (!blob) {
        return blob.error();
    }
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    while (true) {
        ssize_t n = ::read(blob->get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return makeError(ErrorCode::Internal,
                             std::string("reading blob ") + sha256 + ": " + std::strerror(errno));
        }
        if (n == 0) {
            return total;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(fd, buf.data() + off, static_cast<std::size_t>(n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                return makeError(ErrorCode::Internal,
                                 std::string("writing download: ") + std::strerror(errno));
            }
            off += w;
        }
        total += static_cast<std::uint64_t>(n);
    }
}

DbusTransport::Dict DbusTransport::jobRequest(const json& job) const {
    // Built field by field so each has the exact D-Bus type the XML documents.
    auto req = request();
    req["commit"] = sdbus::Variant(job.value("commit", std::string()));
    req["command"] = sdbus::Variant(job.value("command", std::vector<std::string>{}));
    if (job.contains("image") && job["image"].is_string()) {
        req["image"] = sdbus::Variant(job["image"].get<std::string>());
    }
    req["priority"] = sdbus::Variant(job.value("priority", std::int32_t{0}));
    for (const char* field : {"after", "after_ok", "data"}) {
        if (job.contains(field)) {
            req[field] = sdbus::Variant(job.value(field, std::vector<std::string>{}));
        }
    }
    if (job.contains("max_retries")) {
        req["max_retries"] = sdbus::Variant(job.value("max_retries", std::int32_t{0}));
    }
    if (job.contains("cpus")) {
        req["cpus"] = sdbus::Variant(job.value("cpus", 0.0));
    }
    if (job.contains("memory_mib")) {
        req["memory_mib"] = sdbus::Variant(job.value("memory_mib", std::uint64_t{0}));
    }
    for (const char* field : {"gpus", "max_runtime_s"}) {
        if (job.contains(field)) {
            req[field] = sdbus::Variant(job.value(field, std::uint32_t{0}));
        }
    }
    req["params"] = sdbus::Variant(job.value("params", std::map<std::string, std::string>{}));
    if (job.contains("name") && job["name"].is_string()) {
        req["name"] = sdbus::Variant(job["name"].get<std::string>());
    }
    return req;
}

Result<json> DbusTransport::submitJob(const json& job) {
    auto req = jobRequest(job);
    return guarded([&] { return variantMapToJson(proxy_->SubmitJob(req)); });
}

Result<json> DbusTransport::submitSweep(const json& sweep) {
    // Written into the call and read from the reply directly: through sdbus::Variant each of
    // a 1,000-value axis and the 1,000 job ids of the answer would be copied into a message
    // of its own and then again into the call (about 7M instructions, a third of the command;
    // bench/scheduler "sweep").
    return guarded([&]() -> Result<json> {
        auto call = proxy_->newCall("SubmitSweep");
        call.openContainer("{sv}");
        for (const auto& [key, value] : jobRequest(sweep)) {
            call.openDictEntry("sv") << key << value;
            call.closeDictEntry();
        }
        call.openDictEntry("sv") << std::string("sweep");
        call.openVariant("aa{sv}").openContainer("a{sv}");
        static const json kNoAxes = json::array();
        auto axes = sweep.find("sweep");
        for (const auto& axis : axes == sweep.end() ? kNoAxes : *axes) {
            call.openContainer("{sv}");
            call.openDictEntry("sv") << std::string("name");
            call.openVariant("s") << axis.value("name", std::string());
            call.closeVariant().closeDictEntry();
            call.openDictEntry("sv") << std::string("values");
            call.openVariant("as").openContainer("s");
            if (auto values = axis.find("values"); values != axis.end() && values->is_array()) {
                for (const auto& value : *values) {
                    if (value.is_string()) {
                        call << value.get_ref<const std::string&>();
                    } else {
                        call << value.dump();
                    }
                }
            }
            call.closeContainer().closeVariant().closeDictEntry();
            call.closeContainer();
        }
        call.closeContainer().closeVariant().closeDictEntry();
        call.closeContainer();
        auto reply = proxy_->send(call);
        return readVariantMapJson(reply);
    });
}

Result<json> DbusTransport::cancelSweep(const std::string& id) {
    return guarded([&] {
        auto req = request();
        req["sweep"] = sdbus::Variant(id);
        return variantMapToJson(proxy_->CancelSweep(req));
    });
}

Result<json> DbusTransport::pruneJobs(const json& prune) {
    auto req = request();
    if (prune.contains("states")) {
        req["states"] = sdbus::Variant(prune.value("states", std::vector<std::string>{}));
    }
    if (prune.contains("older_than_ms")) {
        req["older_than_ms"] = sdbus::Variant(prune.value("older_than_ms", std::int64_t{0}));
    }
    if (prune.contains("keep_last")) {
        req["keep_last"] = sdbus::Variant(prune.value("keep_last", std::uint32_t{0}));
    }
    req["dry_run"] = sdbus::Variant(prune.value("dry_run", false));
    // As long as fetchml-httpsd waits for fetchmld (SchedulerProxy.cpp, kCallTimeout).
    return guarded(
        [&] { return variantMapToJson(proxy_->PruneJobsWithin(req, std::chrono::minutes(10))); });
}

Result<json> DbusTransport::addPin(const std::string& target, const std::string& note) {
    return guarded([&] {
        auto req = request();
        req["target"] = sdbus::Variant(target);
        req["note"] = sdbus::Variant(note);
        return variantMapToJson(proxy_->AddPin(req));
    });
}

Result<json> DbusTransport::listPins() {
    return listOf(guarded([&] { return variantMapToJson(proxy_->ListPins(request())); }), "pins",
                  "ListPins");
}

Result<json> DbusTransport::removePin(const std::string& target) {
    return guarded([&] {
        auto req = request();
        req["target"] = sdbus::Variant(target);
        return variantMapToJson(proxy_->RemovePin(req));
    });
}

Result<json> DbusTransport::addDatasetVersion(const std::string& name, const std::string& tree) {
    return guarded([&] {
        auto req = request();
        req["name"] = sdbus::Variant(name);
        req["tree"] = sdbus::Variant(tree);
        return variantMapToJson(proxy_->AddDatasetVersion(req));
    });
}

Result<json> DbusTransport::listDatasets() {
    return listOf(guarded([&] { return variantMapToJson(proxy_->ListDatasets(request())); }),
                  "datasets", "ListDatasets");
}

Result<json> DbusTransport::getDataset(const std::string& ref) {
    return guarded([&] {
        auto req = request();
        req["ref"] = sdbus::Variant(ref);
        return variantMapToJson(proxy_->GetDataset(req));
    });
}

Result<json> DbusTransport::removeDataset(const std::string& ref) {
    return guarded([&] {
        auto req = request();
        req["ref"] = sdbus::Variant(ref);
        return variantMapToJson(proxy_->RemoveDataset(req));
    });
}

Result<json> DbusTransport::getJob(const std::string& id) {
    return guarded([&] {
        auto req = request();
        req["id"] = sdbus::Variant(id);
        return variantMapToJson(proxy_->GetJob(req));
    });
}

Result<json> DbusTransport::listJobs(const std::string& state, std::uint32_t limit,
                                     const std::string& before, const std::string& sweep) {
    return guarded([&] {
        auto req = request();
        if (!sweep.empty()) {
            req["sweep"] = sdbus::Variant(sweep);
        }
        if (!state.empty()) {
            req["state"] = sdbus::Variant(state);
        }
        if (!before.empty()) {
            req["before"] = sdbus::Variant(before);
        }
        req["limit"] = sdbus::Variant(limit);
        json out = json::array();
        for (const auto& job : proxy_->ListJobs(req)) {
            auto converted = variantMapToJson(job);
            if (!converted) {
                return Result<json>(converted.error());
            }
            out.push_back(std::move(*converted));
        }
        return Result<json>(std::move(out));
    });
}

Result<json> DbusTransport::cancelJob(const std::string& id) {
    return guarded([&] {
        auto req = request();
        req["id"] = sdbus::Variant(id);
        return variantMapToJson(proxy_->CancelJob(req));
    });
}

Result<LogChunk> DbusTransport::readLog(const std::string& id, std::uint64_t offset,
                                        std::uint32_t max) {
    return guarded([&] {
        auto req = request();
        req["id"] = sdbus::Variant(id);
        req["offset"] = sdbus::Variant(offset);
        req["max"] = sdbus::Variant(max);
        auto reply = proxy_->ReadLog(req);
        LogChunk chunk;
        if (auto it = reply.find("data"); it != reply.end()) {
            auto bytes = it->second.get<std::vector<std::uint8_t>>();
            chunk.data.assign(bytes.begin(), bytes.end());
        }
        chunk.offset = offset + chunk.data.size();
        if (auto it = reply.find("offset"); it != reply.end()) {
            chunk.offset = it->second.get<std::uint64_t>();
        }
        if (auto it = reply.find("eof"); it != reply.end()) {
            chunk.eof = it->second.get<bool>();
        }
        return chunk;
    });
}

Result<JobResults> DbusTransport::jobResults(const std::string& id) {
    auto job = getJob(id);
    if (!job) {
        return job.error();
    }
    std::string results = job->value("results", std::string());
    if (results.empty()) {
        return makeError(ErrorCode::NotFound, "job " + id + " has no results yet");
    }
    auto manifest = getManifest(results);
    if (!manifest) {
        return manifest.error();
    }
    return JobResults{results, std::move(*manifest)};
}

}  // namespace fetchml::ctl
