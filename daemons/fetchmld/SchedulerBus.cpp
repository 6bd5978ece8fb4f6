#include "SchedulerBus.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <system_error>

#include "JobFields.hpp"
#include "core/Audit.hpp"
#include "core/Log.hpp"
#include "core/Version.hpp"
#include "store/ChunkList.hpp"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.bus");
}

[[noreturn]] void fail(const Error& error) {
    throw sdbus::Error(dbusErrorName(error.code), error.message);
}

template <typename T>
T unwrap(Result<T> result) {
    if (!result) {
        fail(result.error());
    }
    return std::move(result).value();
}

void unwrap(const Result<void>& result) {
    if (!result) {
        fail(result.error());
    }
}

}  // namespace

// Runs one method body: Result errors are already sdbus::Error; anything else is our bug and
// becomes Internal rather than escaping into sd-bus. A call that fails after its caller was
// authenticated and permitted (bad arguments, unknown ids, ...) is audited as "failed" here.
template <typename F>
auto SchedulerBus::guarded(const char* method, F&& body) -> decltype(body()) {
    call_ = CallState{};
    // Every call sees the sweeps accepted before it with their jobs (decisions.md "Sweeps: one
    // record, expanded after the answer"); a flag test when there is none.
    deps_.scheduler.expandPendingSweeps();
    try {
        return body();
    } catch (const sdbus::Error& e) {
        auditFailure(e.getMessage());
        throw;
    } catch (const std::exception& e) {
        log()->error("{}: {}", method, e.what());
        auditFailure(std::string(method) + " failed inside fetchmld");
        throw sdbus::Error(dbusErrorName(ErrorCode::Internal),
                           std::string(method) + " failed inside fetchmld");
    }
}

void SchedulerBus::auditFailure(const std::string& why) {
    if (call_.audited || !call_.who) {
        return;
    }
    call_.audited = true;
    audit(AuditEvent{call_.action, "failed", call_.who->user, call_.who->remoteAddr, "",
                     call_.who->user + ": " + call_.action + " failed: " + why});
}

SchedulerBus::SchedulerBus(sdbus::IConnection& connection, SchedulerBusDeps deps)
    : AdaptorInterfaces(connection, kSchedulerObjectPath), deps_(deps), peers_(connection) {
    if (deps_.loop != nullptr) {
        sd_event_source* source = nullptr;
        int r = sd_event_add_defer(deps_.loop, &source, &SchedulerBus::onCommit, this);
        if (r < 0) {
            throw std::system_error(-r, std::generic_category(), "sd_event_add_defer(commit)");
        }
        committer_.reset(source);
        sd_event_source_set_enabled(source, SD_EVENT_OFF);
        sd_event_source_set_description(source, "group-commit");
    }
    registerAdaptor();
}

SchedulerBus::~SchedulerBus() {
    unregisterAdaptor();
}

Identity SchedulerBus::authenticate(const VariantMap& request, const char* action) {
    auto key = unwrap(getOptionalString(request, "api_key"));
    auto remote = getOptionalString(request, "remote_addr");
    std::string remoteAddr = remote && *remote ? **remote : std::string();
    std::optional<uid_t> uid;
    std::string sender;
    if (const auto* message = getObject().getCurrentlyProcessedMessage()) {
        sender = message->getSender();
        // An API key decides by itself; only local callers need their uid.
        if (!key || key->empty()) {
            auto user = peers_.unixUser(sender);
            if (user) {
                uid = *user;
            } else {
                log()->warn("{}", user.error().message);
            }
        }
    }
    std::string why;
    auto identity = deps_.auth.identify(key, uid, sender, &why);
    if (!identity) {
        std::string from = remoteAddr.empty() ? "" : " from " + remoteAddr;
        audit(AuditEvent{action, "failed", "", remoteAddr, "",
                         "authentication failed" + from + ": " + why});
        call_.audited = true;
        fail(identity.error());
    }
    if (identity->viaApiKey) {
        identity->remoteAddr = remoteAddr;
    }
    call_.who = *identity;
    call_.action = action;
    return *identity;
}

void SchedulerBus::enforce(const Identity& who, const Result<void>& allowed, const char* action,
                           const std::string& jobId) {
    if (allowed) {
        return;
    }
    audit(AuditEvent{action, "denied", who.user, who.remoteAddr, jobId,
                     who.user + " was denied " + action + ": " + allowed.error().message});
    call_.audited = true;
    fail(allowed.error());
}

Identity SchedulerBus::authorize(const VariantMap& request, Permission permission,
                                 const char* action) {
    auto who = authenticate(request, action);
    enforce(who, deps_.auth.require(who, permission), action);
    return who;
}

void SchedulerBus::done(const Identity& who, const char* action, const std::string& message,
                        const std::string& jobId) {
    audit(AuditEvent{action, "ok", who.user, who.remoteAddr, jobId, message});
    call_.audited = true;
}

Job SchedulerBus::readableJob(const Identity& who, const VariantMap& request, const char* action) {
    auto job = unwrap(deps_.jobs.get(unwrap(getString(request, "id"))));
    enforce(
        who,
        deps_.auth.requireFor(who, job.spec.user, Permission::JobsReadOwn, Permission::JobsReadAny),
        action, job.id);
    return job;
}

void SchedulerBus::jobChanged(const Job& job) {
    try {
        // Written straight into the message (JobFields.hpp): the generated emitJobChanged
        // would build an sdbus::Variant, one message each, for every field first.
        auto signal = getObject().createSignal(INTERFACE_NAME, "JobChanged");
        signal << job.id << jobStateName(job.state);
        appendJob(signal, job);
        getObject().emitSignal(signal);
    } catch (const sdbus::Error& e) {
        log()->warn("job {}: JobChanged not emitted: {}", job.id, e.getMessage());
    }
}

VariantMap SchedulerBus::Hello(const VariantMap& request) {
    return guarded("Hello", [&] {
        auto who = authenticate(request, "hello");
        // What the caller may do: its role's permissions for an API key; for a local caller
        // what polkit answers now (so whoami shows whether fetchml-admin membership took).
        std::vector<std::string> held;
        for (Permission p : allPermissions()) {
            if (deps_.auth.allows(who, p)) {
                held.emplace_back(permissionName(p));
            }
        }
        done(who, "hello", who.user + " said hello");
        return VariantMap{{"version", std::string(projectVersion())},
                          {"user", who.user},
                          {"role", who.role},
                          {"permissions", held},
                          {"rate_limit_per_minute", deps_.auth.rateLimitFor(who)}};
    });
}

VariantMap SchedulerBus::AddUser(const VariantMap& request) {
    return guarded("AddUser", [&] {
        auto who = authorize(request, Permission::UsersManage, "user.add");
        auto name = unwrap(getString(request, "name"));
        auto role = unwrap(getString(request, "role", "researcher"));
        auto added = unwrap(deps_.users.addUser(name, role));
        done(who, "user.add", who.user + " created user " + name + " with role " + role);
        return VariantMap{
            {"name", added.user.name}, {"role", added.user.role}, {"api_key", added.apiKey}};
    });
}

namespace {

VariantMap keyToVariantMap(const KeyInfo& key) {
    return VariantMap{{"key_id", key.keyId},
                      {"user", key.user},
                      {"role", key.role},
                      {"created_at", key.createdAt},
                      {"expires_at", key.expiresAt},
                      {"revoked_at", key.revokedAt}};
}

}  // namespace

VariantMap SchedulerBus::CreateKey(const VariantMap& request) {
    return guarded("CreateKey", [&] {
        auto who = authenticate(request, "key.create");
        auto user = unwrap(getString(request, "user", who.user));
        auto role = unwrap(getString(request, "role", ""));
        auto expiresAt = unwrap(getInt64(request, "expires_at", 0));
        enforce(who, deps_.auth.requireFor(who, user, Permission::KeysOwn, Permission::UsersManage),
                "key.create");
        // Without users.manage a caller may mint only keys it could use itself.
        if (!deps_.auth.allows(who, Permission::UsersManage)) {
            auto self = unwrap(deps_.users.find(user));
            std::string effective = !role.empty() ? role : (self ? self->role : "");
            if (!deps_.auth.holdsRole(who, effective)) {
                enforce(who,
                        makeError(ErrorCode::PermissionDenied,
                                  "role: " + who.user + " may not create a key with role " +
                                      effective + ", which has permissions it lacks"),
                        "key.create");
            }
        }
        auto key = unwrap(deps_.users.createKey(user, role, expiresAt));
        done(who, "key.create",
             who.user + " created key " + key.info.keyId + " for " + user + " (role " +
                 key.info.role + ")");
        auto out = keyToVariantMap(key.info);
        out["api_key"] = key.apiKey;
        return out;
    });
}

std::vector<VariantMap> SchedulerBus::ListKeys(const VariantMap& request) {
    return guarded("ListKeys", [&] {
        auto who = authenticate(request, "key.list");
        auto user = unwrap(getString(request, "user", ""));
        bool all = deps_.auth.allows(who, Permission::UsersManage);
        if (!all) {
            enforce(who,
                    deps_.auth.requireFor(who, user.empty() ? who.user : user, Permission::KeysOwn,
                                          Permission::UsersManage),
                    "key.list");
            user = who.user;
        }
        std::vector<VariantMap> out;
        for (const auto& key : unwrap(deps_.users.listKeys(user))) {
            out.push_back(keyToVariantMap(key));
        }
        done(who, "key.list", who.user + " listed keys");
        return out;
    });
}

VariantMap SchedulerBus::RevokeKey(const VariantMap& request) {
    return guarded("RevokeKey", [&] {
        auto who = authenticate(request, "key.revoke");
        auto keyId = unwrap(getString(request, "key_id"));
        auto key = unwrap(deps_.users.getKey(keyId));
        enforce(who,
                deps_.auth.requireFor(who, key.user, Permission::KeysOwn, Permission::UsersManage),
                "key.revoke");
        auto revoked = unwrap(deps_.users.revokeKey(keyId));
        done(who, "key.revoke", who.user + " revoked key " + keyId + " of " + key.user);
        return keyToVariantMap(revoked);
    });
}

VariantMap SchedulerBus::MissingBlobs(const VariantMap& request) {
    return guarded("MissingBlobs", [&] {
        auto who = authorize(request, Permission::StoreUpload, "blobs.missing");
        auto hashes = unwrap(getStringList(request, "hashes"));
        std::vector<std::string> missing;
        for (const auto& hash : hashes) {
            if (!Sha256::isValidHex(hash)) {
                fail(makeError(ErrorCode::InvalidArgument,
                               "hashes: '" + hash.substr(0, 80) + "' is not a SHA-256 hex digest"));
            }
            // "Not missing" is a promise the client builds on (it will not send the blob
            // and records its manifest later): the blob is retained so that garbage
            // collection keeps it for the grace period (decisions.md "Blob garbage collection").
            if (!deps_.store.retain(hash)) {
                missing.push_back(hash);
            }
        }
        done(who, "blobs.missing",
             who.user + " asked for " + std::to_string(hashes.size()) + " blobs");
        return VariantMap{{"missing", missing}};
    });
}

VariantMap SchedulerBus::PutBlobs(const VariantMap& request, const sdbus::UnixFd& pack) {
    return guarded("PutBlobs", [&] {
        auto who = authorize(request, Permission::StoreUpload, "blobs.put");
        PackReader reader(deps_.store);
        auto stats = unwrap(reader.read(pack.get()));
        done(who, "blobs.put",
             who.user + " stored " + std::to_string(stats.stored) + " blobs (" +
                 std::to_string(stats.present) + " already present, " +
                 std::to_string(stats.bytes) + " bytes)");
        return VariantMap{{"stored", static_cast<std::uint32_t>(stats.stored)},
                          {"present", static_cast<std::uint32_t>(stats.present)},
                          {"bytes", static_cast<std::uint64_t>(stats.bytes)}};
    });
}

VariantMap SchedulerBus::MissingChunks(const VariantMap& request) {
    return guarded("MissingChunks", [&] {
        auto who = authorize(request, Permission::StoreUpload, "chunks.missing");
        auto hashes = unwrap(getStringList(request, "hashes"));
        auto bases = unwrap(getOptionalStringList(request, "bases"));
        auto missing = unwrap(deps_.chunks.missing(hashes));
        VariantMap reply{{"missing", missing}};
        std::string what = who.user + " asked for " + std::to_string(hashes.size()) + " chunks, " +
                           std::to_string(missing.size()) + " missing";
        if (bases) {
            auto basesMissing = unwrap(deps_.chunks.missingBases(*bases));
            what += ", and " + std::to_string(bases->size()) + " bases, " +
                    std::to_string(basesMissing.size()) + " missing";
            reply.emplace("bases_missing", basesMissing);
        }
        done(who, "chunks.missing", what);
        return reply;
    });
}

VariantMap SchedulerBus::PutChunkedFile(const VariantMap& request) {
    return guarded("PutChunkedFile", [&] {
        auto who = authorize(request, Permission::StoreUpload, "chunks.assemble");
        auto hash = unwrap(getString(request, "hash"));
        auto size = unwrap(getUInt64(request, "size"));
        auto base = unwrap(getOptionalString(request, "base")).value_or("");
        auto parts = parseFileParts(unwrap(getString(request, "chunks")));
        if (!parts) {
            fail(makeError(ErrorCode::InvalidArgument, "chunks: " + parts.error().message));
        }
        auto report = unwrap(deps_.chunks.assemble(hash, size, *parts, base));
        std::string from = base.empty()
                               ? std::to_string(parts->size()) + " chunks"
                               : std::to_string(parts->size()) + " parts, a delta against " + base;
        done(who, "chunks.assemble",
             who.user + (report.stored ? " stored " : " indexed ") + hash + " from " + from + " (" +
                 std::to_string(report.fromBlobs) + " bytes from chunk blobs, " +
                 std::to_string(report.fromFiles) + " from stored files)");
        return VariantMap{{"stored", report.stored},
                          {"from_blobs", static_cast<std::uint64_t>(report.fromBlobs)},
                          {"from_files", static_cast<std::uint64_t>(report.fromFiles)}};
    });
}

VariantMap SchedulerBus::PutManifest(const VariantMap& request) {
    return guarded("PutManifest", [&] {
        auto who = authorize(request, Permission::StoreUpload, "manifest.put");
        auto text = unwrap(getString(request, "manifest"));
        auto parsed = Manifest::parse(text);
        if (!parsed) {
            fail(makeError(ErrorCode::InvalidArgument, "manifest: " + parsed.error().message));
        }
        for (const auto& entry : parsed->entries()) {
            // Retained: a collection running now did not mark this tree's blobs, and keeps
            // them because they are newer than its cutoff.
            if (!deps_.store.retain(entry.sha256)) {
                fail(makeError(ErrorCode::InvalidArgument, "manifest: blob " + entry.sha256 +
                                                               " of " + entry.path +
                                                               " is not stored (PutBlobs it)"));
            }
        }
        std::string id = parsed->commitId();
        unwrap(deps_.jobs.putCommit(id, text, "commit", who.user));
        done(who, "manifest.put", who.user + " recorded commit " + id);
        return VariantMap{{"commit", id}};
    });
}

VariantMap SchedulerBus::GetManifest(const VariantMap& request) {
    return guarded("GetManifest", [&] {
        auto who = authorize(request, Permission::StoreRead, "manifest.get");
        auto id = unwrap(getString(request, "commit"));
        auto text = unwrap(deps_.jobs.getCommit(id));
        if (!text) {
            fail(makeError(ErrorCode::NotFound, "commit " + id.substr(0, 80) + " is not known"));
        }
        done(who, "manifest.get", who.user + " read manifest " + id);
        return VariantMap{{"manifest", *text}};
    });
}

sdbus::UnixFd SchedulerBus::OpenBlob(const VariantMap& request) {
    return guarded("OpenBlob", [&] {
        auto who = authorize(request, Permission::StoreRead, "blob.open");
        auto hash = unwrap(getString(request, "hash"));
        auto fd = unwrap(deps_.store.open(hash));
        done(who, "blob.open", who.user + " opened blob " + hash);
        return sdbus::UnixFd(fd.release(), sdbus::adopt_fd);
    });
}

void SchedulerBus::checkDependenciesReadable(const Identity& who, const JobSpec& spec) {
    for (const auto& [ids, field] :
         {std::pair{&spec.after, "after"}, std::pair{&spec.afterOk, "after_ok"}}) {
        for (const auto& id : *ids) {
            auto dep = deps_.jobs.get(id);
            if (dep && !deps_.auth.requireFor(who, dep->spec.user, Permission::JobsReadOwn,
                                              Permission::JobsReadAny)) {
                fail(makeError(ErrorCode::InvalidArgument,
                               std::string(field) + ": job " + id + " does not exist"));
            }
        }
    }
}

JobSpec SchedulerBus::specFromRequest(const VariantMap& request, const std::string& user) {
    JobSpec spec;
    spec.user = user;
    spec.commit = unwrap(getString(request, "commit"));
    spec.command = unwrap(getStringList(request, "command"));
    spec.image = unwrap(getString(request, "image", ""));
    spec.name = unwrap(getString(request, "name", ""));
    auto priority = unwrap(getInt64(request, "priority", 0));
    if (priority < Scheduler::kMinPriority || priority > Scheduler::kMaxPriority) {
        fail(makeError(ErrorCode::InvalidArgument,
                       "priority: expected " + std::to_string(Scheduler::kMinPriority) + " to " +
                           std::to_string(Scheduler::kMaxPriority)));
    }
    spec.priority = static_cast<std::int32_t>(priority);
    auto retries = unwrap(getInt64(request, "max_retries", 0));
    if (retries < 0 || retries > Scheduler::kMaxRetries) {
        fail(makeError(ErrorCode::InvalidArgument,
                       "max_retries: expected 0 to " + std::to_string(Scheduler::kMaxRetries)));
    }
    spec.maxRetries = static_cast<std::int32_t>(retries);
    spec.cpus = unwrap(getDouble(request, "cpus", 0));
    spec.memoryMib = unwrap(getUInt64(request, "memory_mib", 0));
    // Saturated to 32 bits: Scheduler::validate says what the limits are.
    constexpr std::uint64_t kMax32 = std::numeric_limits<std::uint32_t>::max();
    spec.gpus = static_cast<std::uint32_t>(std::min(unwrap(getUInt64(request, "gpus", 0)), kMax32));
    spec.maxRuntimeS = static_cast<std::uint32_t>(
        std::min(unwrap(getUInt64(request, "max_runtime_s", 0)), kMax32));
    spec.after = unwrap(getStringList(request, "after", {}));
    spec.afterOk = unwrap(getStringList(request, "after_ok", {}));
    spec.params = unwrap(getStringMap(request, "params", {}));
    spec.data = resolveData(unwrap(getStringList(request, "data", {})));
    return spec;
}

std::vector<DataRef> SchedulerBus::resolveData(const std::vector<std::string>& refs) {
    if (refs.size() > DatasetStore::kMaxPerJob) {
        fail(makeError(ErrorCode::InvalidArgument,
                       "data: at most " + std::to_string(DatasetStore::kMaxPerJob) + " datasets"));
    }
    std::vector<DataRef> out;
    for (const auto& text : refs) {
        auto ref = unwrap(parseDatasetRef(text, "data"));
        for (const auto& seen : out) {
            if (seen.name == ref.name) {
                fail(makeError(ErrorCode::InvalidArgument,
                               "data: " + ref.name + " is named twice (one version per job)"));
            }
        }
        out.push_back(unwrap(deps_.datasets.resolve(DataRef{ref.name, ref.version, ""})));
    }
    return out;
}

void SchedulerBus::SubmitJob(sdbus::Result<VariantMap>&& result, VariantMap request) {
    std::optional<VariantMap> reply;
    try {
        reply = guarded("SubmitJob", [&]() -> std::optional<VariantMap> {
            auto who = authorize(request, Permission::JobsSubmit, "job.submit");
            auto spec = specFromRequest(request, who.user);
            checkDependenciesReadable(who, spec);
            if (!committer_ || !deps_.scheduler.batchesSubmissions()) {
                auto job = unwrap(deps_.scheduler.submit(std::move(spec)));
                done(who, "job.submit", who.user + " queued job " + job.id, job.id);
                return jobToVariantMap(job);
            }
            // Valid: it waits for the group commit, which audits it and answers.
            auto ready = unwrap(deps_.scheduler.prepare(std::move(spec)));
            call_.audited = true;
            pending_.push_back(
                PendingSubmission{std::move(who), std::move(ready), std::move(result)});
            if (pending_.size() == 1) {
                sd_event_source_set_enabled(committer_.get(), SD_EVENT_ONESHOT);
            }
            return std::nullopt;
        });
    } catch (const sdbus::Error& e) {
        result.returnError(e);  // refused before it was queued: at once, as before
        return;
    }
    if (reply) {
        result.returnResults(*reply);
    }
}

int SchedulerBus::onCommit(sd_event_source*, void* self) {
    static_cast<SchedulerBus*>(self)->commitSubmissions();
    return 0;
}

void SchedulerBus::commitSubmissions() {
    if (pending_.empty()) {
        return;
    }
    auto batch = std::move(pending_);
    pending_.clear();
    std::vector<JobSpec> specs;
    specs.reserve(batch.size());
    for (auto& p : batch) {
        specs.push_back(std::move(p.spec));
    }
    auto jobs = deps_.scheduler.submitBatch(specs);
    if (!jobs) {
        log()->error("{} submissions not stored (their transaction failed): {}", batch.size(),
                     jobs.error().message);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Identity& who = batch[i].who;
        try {
            if (jobs) {
                const Job& job = (*jobs)[i];
                audit(AuditEvent{"job.submit", "ok", who.user, who.remoteAddr, job.id,
                                 who.user + " queued job " + job.id});
                batch[i].result.returnResults(jobToVariantMap(job));
            } else {
                audit(AuditEvent{"job.submit", "failed", who.user, who.remoteAddr, "",
                                 who.user + ": job.submit failed: " + jobs.error().message});
                batch[i].result.returnError(
                    sdbus::Error(dbusErrorName(jobs.error().code), jobs.error().message));
            }
        } catch (const std::exception& e) {
            // The caller has gone or the connection broke (SdEventBus notices that).
            log()->warn("job.submit by {}: answer not sent: {}", who.user, e.what());
        }
    }
    if (jobs) {
        // After the answers: starting a job (its own commit, its run directory) is not part
        // of accepting it.
        deps_.scheduler.dispatch();
    }
}

namespace {

/// The axes of a SubmitSweep request: "sweep" as aa{sv}, each {"name": s, "values": as}.
std::vector<SweepAxis> sweepAxes(const VariantMap& request) {
    auto it = request.find("sweep");
    if (it == request.end()) {
        fail(makeError(ErrorCode::InvalidArgument, "missing field 'sweep'"));
    }
    if (it->second.peekValueType() != "aa{sv}") {
        fail(makeError(ErrorCode::InvalidArgument,
                       "field 'sweep': expected a list of {name, values} objects (aa{sv}), got " +
                           it->second.peekValueType()));
    }
    std::vector<SweepAxis> axes;
    for (const auto& axis : it->second.get<std::vector<VariantMap>>()) {
        const std::string field = "sweep[" + std::to_string(axes.size()) + "]";
        auto name = getString(axis, "name");
        auto values = getStringList(axis, "values");
        if (!name || !values) {
            fail(makeError(ErrorCode::InvalidArgument,
                           field + ": " + (!name ? name.error() : values.error()).message));
        }
        axes.push_back(SweepAxis{std::move(*name), std::move(*values)});
    }
    return axes;
}

}  // namespace

VariantMap SchedulerBus::SubmitSweep(const VariantMap& request) {
    return guarded("SubmitSweep", [&] {
        auto who = authorize(request, Permission::JobsSubmit, "sweep.submit");
        auto axes = sweepAxes(request);
        auto spec = specFromRequest(request, who.user);
        checkDependenciesReadable(who, spec);
        auto sweep = unwrap(deps_.scheduler.submitSweep(std::move(spec), axes));
        // Accepted as one record, its jobs stored right after this answer: their ids were
        // reserved (firstSeq on); a sweep stored at once (shared queue) lists its jobs.
        std::vector<std::string> ids;
        ids.reserve(static_cast<std::size_t>(sweep.size));
        for (std::int64_t i = 0; i < sweep.size; ++i) {
            ids.push_back(sweep.jobs.empty() ? jobIdFromSeq(sweep.firstSeq + i)
                                             : sweep.jobs[static_cast<std::size_t>(i)].id);
        }
        done(who, "sweep.submit",
             who.user + " queued sweep " + sweep.id + " of " + std::to_string(ids.size()) +
                 " jobs (" + ids.front() + " to " + ids.back() + ")");
        return VariantMap{
            {"sweep", sweep.id}, {"jobs", ids}, {"state", std::string(jobStateName(sweep.state))}};
    });
}

VariantMap SchedulerBus::GetJob(const VariantMap& request) {
    return guarded("GetJob", [&] {
        auto who = authenticate(request, "job.get");
        auto job = readableJob(who, request, "job.get");
        done(who, "job.get", who.user + " read job " + job.id, job.id);
        auto out = jobToVariantMap(job);
        if (auto waiting = deps_.scheduler.waiting(job); !waiting.reason.empty()) {
            out["waiting"] = waiting.reason;
            out["waiting_until"] = waiting.atMs;
        }
        return out;
    });
}

std::vector<VariantMap> SchedulerBus::ListJobs(const VariantMap& request) {
    return guarded("ListJobs", [&] {
        auto who = authenticate(request, "job.list");
        // Callers who may read any job see all; others only their own.
        std::string onlyUser;
        if (!deps_.auth.allows(who, Permission::JobsReadAny)) {
            enforce(who, deps_.auth.require(who, Permission::JobsReadOwn), "job.list");
            onlyUser = who.user;
        }
        auto stateName = unwrap(getOptionalString(request, "state"));
        std::optional<JobState> state;
        if (stateName && !stateName->empty()) {
            state = parseJobState(*stateName);
            if (!state) {
                fail(makeError(ErrorCode::InvalidArgument,
                               "state: unknown state '" + stateName->substr(0, 40) + "'"));
            }
        }
        auto limit = std::min<std::uint64_t>(unwrap(getUInt64(request, "limit", 100)), 10000);
        auto before = unwrap(getString(request, "before", ""));
        if (!before.empty() && seqFromJobId(before) == 0) {
            fail(makeError(ErrorCode::InvalidArgument,
                           "before: '" + before.substr(0, 40) + "' is not a job id"));
        }
        std::int64_t sweepSeq = 0;
        if (auto sweep = unwrap(getString(request, "sweep", "")); !sweep.empty()) {
            if (seqFromSweepId(sweep) == 0) {
                fail(makeError(ErrorCode::InvalidArgument,
                               "sweep: '" + sweep.substr(0, 40) + "' is not a sweep id"));
            }
            sweepSeq = unwrap(deps_.jobs.sweep(sweep)).seq;
        }
        std::vector<VariantMap> out;
        for (const auto& job : unwrap(deps_.jobs.list(state, static_cast<std::uint32_t>(limit),
                                                      onlyUser, before, sweepSeq))) {
            out.push_back(jobToVariantMap(job));
        }
        done(who, "job.list", who.user + " listed " + std::to_string(out.size()) + " jobs");
        return out;
    });
}

VariantMap SchedulerBus::CancelJob(const VariantMap& request) {
    return guarded("CancelJob", [&] {
        auto who = authenticate(request, "job.cancel");
        auto target = unwrap(deps_.jobs.get(unwrap(getString(request, "id"))));
        enforce(who,
                deps_.auth.requireFor(who, target.spec.user, Permission::JobsCancelOwn,
                                      Permission::JobsCancelAny),
                "job.cancel", target.id);
        auto job = unwrap(deps_.scheduler.cancel(target.id));
        done(who, "job.cancel", who.user + " cancelled job " + target.id, target.id);
        return jobToVariantMap(job);
    });
}

VariantMap SchedulerBus::CancelSweep(const VariantMap& request) {
    return guarded("CancelSweep", [&] {
        auto who = authenticate(request, "sweep.cancel");
        auto sweep = unwrap(deps_.jobs.sweep(unwrap(getString(request, "sweep"))));
        enforce(who,
                deps_.auth.requireFor(who, sweep.user, Permission::JobsCancelOwn,
                                      Permission::JobsCancelAny),
                "sweep.cancel");
        auto result = unwrap(deps_.scheduler.cancelSweep(sweep));
        done(who, "sweep.cancel",
             who.user + " cancelled sweep " + sweep.id + ": " +
                 std::to_string(result.cancelled.size()) + " cancelled, " +
                 std::to_string(result.stopping.size()) + " stopping, " +
                 std::to_string(result.unreachable.size()) + " unreachable");
        return VariantMap{{"sweep", sweep.id},
                          {"cancelled", result.cancelled},
                          {"stopping", result.stopping},
                          {"unreachable", result.unreachable}};
    });
}

PruneFilter SchedulerBus::pruneFilterFromRequest(const VariantMap& request) {
    PruneFilter filter;
    for (const auto& name : unwrap(getStringList(request, "states", {}))) {
        auto state = parseJobState(name);
        if (!state || !isTerminal(*state)) {
            fail(makeError(ErrorCode::InvalidArgument,
                           "states: '" + name.substr(0, 40) +
                               "' is not a finished state (succeeded, failed, cancelled)"));
        }
        filter.states.push_back(*state);
    }
    filter.olderThanMs = unwrap(getInt64(request, "older_than_ms", 0));
    if (filter.olderThanMs < 0) {
        fail(makeError(ErrorCode::InvalidArgument, "older_than_ms: must not be negative"));
    }
    if (auto keep = unwrap(getOptionalUInt64(request, "keep_last"))) {
        if (*keep > UINT32_MAX) {
            fail(makeError(ErrorCode::InvalidArgument, "keep_last: at most 4294967295"));
        }
        filter.keepLast = static_cast<std::uint32_t>(*keep);
    }
    filter.dryRun = unwrap(getBool(request, "dry_run", false));
    return filter;
}

namespace {

/// Audits a prune that is complete and answers its caller.
void answerPrune(const Identity& who, const sdbus::Result<VariantMap>& reply,
                 const Result<PruneOutcome>& outcome) {
    try {
        if (!outcome) {
            audit(AuditEvent{"job.prune", "failed", who.user, who.remoteAddr, "",
                             who.user + ": job.prune failed: " + outcome.error().message});
            reply.returnError(
                sdbus::Error(dbusErrorName(outcome.error().code), outcome.error().message));
            return;
        }
        const PruneOutcome& o = *outcome;
        std::vector<std::string> trees;
        for (const auto& [id, kind] : o.store.trees) {
            trees.push_back(id);
        }
        audit(AuditEvent{"job.prune", "ok", who.user, who.remoteAddr, "",
                         who.user + (o.dryRun ? " would prune " : " pruned ") +
                             std::to_string(o.jobs.pruned.size()) + " finished jobs, " +
                             std::to_string(trees.size()) + " trees and " +
                             std::to_string(o.store.blobsRemoved) + " blobs (" +
                             std::to_string(o.store.bytesFreed) + " bytes) of the store"});
        reply.returnResults(VariantMap{{"pruned", o.jobs.pruned},
                                       {"kept", o.jobs.keptForDependents},
                                       {"dirs_left", o.jobs.dirsLeft},
                                       {"trees_removed", trees},
                                       {"blobs_removed", o.store.blobsRemoved},
                                       {"bytes_freed", o.store.bytesFreed},
                                       {"gc_skipped", o.gcSkipped},
                                       {"dry_run", o.dryRun}});
    } catch (const std::exception& e) {
        // The caller has gone or the connection broke (SdEventBus notices that).
        log()->warn("job.prune by {}: answer not sent: {}", who.user, e.what());
    }
}

VariantMap pinToVariantMap(const Pin& pin) {
    return VariantMap{{"target", pin.target},
                      {"kind", pin.kind},
                      {"note", pin.note},
                      {"user", pin.user},
                      {"created_at", pin.createdAt}};
}

}  // namespace

void SchedulerBus::PruneJobs(sdbus::Result<VariantMap>&& result, VariantMap request) {
    std::optional<std::pair<Identity, PruneFilter>> accepted;
    try {
        accepted = guarded("PruneJobs", [&] {
            auto who = authorize(request, Permission::JobsPrune, "job.prune");
            auto filter = pruneFilterFromRequest(request);
            call_.audited = true;  // audited with its outcome, once the prune is complete
            return std::pair{std::move(who), std::move(filter)};
        });
    } catch (const sdbus::Error& e) {
        result.returnError(e);
        return;
    }
    // sdbus::Result is move-only and the callback must be copyable.
    auto reply = std::make_shared<sdbus::Result<VariantMap>>(std::move(result));
    deps_.prunes.submit(accepted->second,
                        [who = accepted->first, reply](const Result<PruneOutcome>& outcome) {
                            answerPrune(who, *reply, outcome);
                        });
}

VariantMap SchedulerBus::AddPin(const VariantMap& request) {
    return guarded("AddPin", [&] {
        auto who = authorize(request, Permission::StorePin, "pin.add");
        auto target = unwrap(getString(request, "target"));
        auto note = unwrap(getString(request, "note", ""));
        auto pin = unwrap(deps_.pins.add(target, note, who.user));
        done(who, "pin.add", who.user + " pinned " + pin.kind + " " + pin.target);
        return pinToVariantMap(pin);
    });
}

VariantMap SchedulerBus::ListPins(const VariantMap& request) {
    return guarded("ListPins", [&] {
        auto who = authorize(request, Permission::StoreRead, "pin.list");
        std::vector<VariantMap> pins;
        for (const auto& pin : unwrap(deps_.pins.list())) {
            pins.push_back(pinToVariantMap(pin));
        }
        done(who, "pin.list", who.user + " listed " + std::to_string(pins.size()) + " pins");
        return VariantMap{{"pins", pins}};
    });
}

namespace {

VariantMap versionToVariantMap(const DatasetVersion& v) {
    return VariantMap{{"name", v.name},           {"version", v.version}, {"tree", v.tree},
                      {"files", v.files},         {"bytes", v.bytes},     {"user", v.user},
                      {"created_at", v.createdAt}};
}

VariantMap datasetToVariantMap(const Dataset& d) {
    std::vector<VariantMap> versions;
    for (const auto& v : d.versions) {
        versions.push_back(versionToVariantMap(v));
    }
    return VariantMap{{"name", d.name}, {"owner", d.owner}, {"versions", versions}};
}

std::string refName(const DatasetVersion& v) {
    return v.name + "@" + std::to_string(v.version);
}

}  // namespace

VariantMap SchedulerBus::AddDatasetVersion(const VariantMap& request) {
    return guarded("AddDatasetVersion", [&] {
        auto who = authenticate(request, "data.add");
        auto name = unwrap(getString(request, "name"));
        auto tree = unwrap(getString(request, "tree"));
        auto owner = unwrap(deps_.datasets.owner(name));
        enforce(who,
                deps_.auth.requireFor(who, owner.value_or(who.user), Permission::DataWriteOwn,
                                      Permission::DataWriteAny),
                "data.add");
        auto [version, created] = unwrap(deps_.datasets.add(name, tree, who.user));
        done(who, "data.add",
             created ? who.user + " added dataset version " + refName(version) + " (tree " +
                           version.tree + ")"
                     : who.user + " found dataset " + name + " unchanged at version " +
                           std::to_string(version.version));
        auto out = versionToVariantMap(version);
        out["created"] = created;
        return out;
    });
}

VariantMap SchedulerBus::ListDatasets(const VariantMap& request) {
    return guarded("ListDatasets", [&] {
        auto who = authorize(request, Permission::StoreRead, "data.list");
        std::vector<VariantMap> datasets;
        for (const auto& d : unwrap(deps_.datasets.list())) {
            auto entry = versionToVariantMap(d.versions.front());
            entry["versions"] = d.versionCount;
            entry["owner"] = d.owner;
            datasets.push_back(std::move(entry));
        }
        done(who, "data.list",
             who.user + " listed " + std::to_string(datasets.size()) + " datasets");
        return VariantMap{{"datasets", datasets}};
    });
}

VariantMap SchedulerBus::GetDataset(const VariantMap& request) {
    return guarded("GetDataset", [&] {
        auto who = authorize(request, Permission::StoreRead, "data.show");
        auto ref = unwrap(parseDatasetRef(unwrap(getString(request, "ref")), "ref"));
        auto dataset = unwrap(deps_.datasets.get(ref));
        done(who, "data.show", who.user + " read dataset " + dataset.name);
        return datasetToVariantMap(dataset);
    });
}

VariantMap SchedulerBus::RemoveDataset(const VariantMap& request) {
    return guarded("RemoveDataset", [&] {
        auto who = authenticate(request, "data.remove");
        auto ref = unwrap(parseDatasetRef(unwrap(getString(request, "ref")), "ref"));
        auto owner = unwrap(deps_.datasets.owner(ref.name));
        // A dataset that does not exist is NotFound for whoever may write datasets at all.
        enforce(who,
                deps_.auth.requireFor(who, owner.value_or(who.user), Permission::DataWriteOwn,
                                      Permission::DataWriteAny),
                "data.remove");
        auto removed = unwrap(deps_.datasets.remove(ref));
        std::string versions;
        for (const auto& v : removed.versions) {
            versions += (versions.empty() ? "" : ", ") + refName(v);
        }
        done(who, "data.remove", who.user + " removed dataset versions " + versions);
        return datasetToVariantMap(removed);
    });
}

VariantMap SchedulerBus::RemovePin(const VariantMap& request) {
    return guarded("RemovePin", [&] {
        auto who = authorize(request, Permission::StorePin, "pin.remove");
        auto pin = unwrap(deps_.pins.remove(unwrap(getString(request, "target"))));
        done(who, "pin.remove", who.user + " unpinned " + pin.kind + " " + pin.target);
        return pinToVariantMap(pin);
    });
}

VariantMap SchedulerBus::ReadLog(const VariantMap& request) {
    return guarded("ReadLog", [&] {
        auto who = authenticate(request, "job.log");
        auto job = readableJob(who, request, "job.log");
        done(who, "job.log", who.user + " read the log of job " + job.id, job.id);
        return readLog(job, request);
    });
}

VariantMap SchedulerBus::readLog(const Job& job, const VariantMap& request) {
    if (job.shared && !job.host.empty()) {
        fail(makeError(ErrorCode::NotFound,
                       "job " + job.id + " runs on host " + job.host + ": its log is kept there"));
    }
    auto offset = unwrap(getUInt64(request, "offset", 0));
    auto max = std::min(unwrap(getUInt64(request, "max", 65536)), kMaxLogRead);
    std::string path = deps_.scheduler.runDir(job.id) + "/logs/output.log";
    bool finished = isTerminal(job.state);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        // No log (yet): the job has not started, or produced none.
        return VariantMap{
            {"data", std::vector<std::uint8_t>{}}, {"offset", offset}, {"eof", finished}};
    }
    struct stat st {};
    ::fstat(fd.get(), &st);
    std::vector<std::uint8_t> data(max);
    ssize_t n = max == 0 ? 0 : ::pread(fd.get(), data.data(), max, static_cast<off_t>(offset));
    if (n < 0) {
        fail(makeError(ErrorCode::Internal, "cannot read the log of job " + job.id));
    }
    data.resize(static_cast<std::size_t>(n));
    std::uint64_t next = offset + static_cast<std::uint64_t>(n);
    bool eof = finished && next >= static_cast<std::uint64_t>(st.st_size);
    return VariantMap{{"data", data}, {"offset", next}, {"eof", eof}};
}

}  // namespace fetchml
