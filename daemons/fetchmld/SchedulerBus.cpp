#include "SchedulerBus.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "core/Log.hpp"
#include "core/Version.hpp"
#include "store/Manifest.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.bus");
}
auto audit() {
    return logger("sched.audit");
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

// Runs one method body: Result errors are already sdbus::Error; anything else is our bug and
// becomes Internal rather than escaping into sd-bus.
template <typename F>
auto guarded(const char* method, F&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        log()->error("{}: {}", method, e.what());
        throw sdbus::Error(dbusErrorName(ErrorCode::Internal),
                           std::string(method) + " failed inside fetchmld");
    }
}

}  // namespace

SchedulerBus::SchedulerBus(sdbus::IConnection& connection, SchedulerBusDeps deps)
    : AdaptorInterfaces(connection, kSchedulerObjectPath), deps_(deps) {
    registerAdaptor();
}

SchedulerBus::~SchedulerBus() {
    unregisterAdaptor();
}

Identity SchedulerBus::authorize(const VariantMap& request, Permission permission,
                                 const char* action) {
    auto key = unwrap(getOptionalString(request, "api_key"));
    std::optional<uid_t> uid;
    if (const auto* message = getObject().getCurrentlyProcessedMessage()) {
        try {
            uid = message->getCredsUid();
        } catch (const sdbus::Error& e) {
            log()->warn("cannot read the sender's credentials: {}", e.getMessage());
        }
    }
    auto identity = deps_.auth.identify(key, uid);
    if (!identity) {
        audit()->warn("AUDIT user=? action={} result=unauthenticated", action);
        fail(identity.error());
    }
    auto allowed = Authenticator::require(*identity, permission);
    audit()->info("AUDIT user={} role={} action={} result={}", identity->user, identity->role,
                  action, allowed ? "allowed" : "denied");
    unwrap(allowed);
    return *identity;
}

VariantMap SchedulerBus::jobToVariantMap(const Job& job) {
    VariantMap out;
    out["id"] = job.id;
    out["name"] = job.spec.name;
    out["state"] = std::string(jobStateName(job.state));
    out["user"] = job.spec.user;
    out["commit"] = job.spec.commit;
    out["command"] = job.spec.command;
    out["image"] = job.spec.image;
    out["priority"] = job.spec.priority;
    out["params"] = job.spec.params;
    out["exit_code"] = job.exitCode;
    out["reason"] = job.reason;
    out["submitted_at"] = job.submittedAt;
    out["started_at"] = job.startedAt;
    out["finished_at"] = job.finishedAt;
    out["results"] = job.results;
    out["metrics"] = job.metrics;
    return out;
}

void SchedulerBus::jobChanged(const Job& job) {
    try {
        emitJobChanged(job.id, jobStateName(job.state), jobToVariantMap(job));
    } catch (const sdbus::Error& e) {
        log()->warn("job {}: JobChanged not emitted: {}", job.id, e.getMessage());
    }
}

VariantMap SchedulerBus::Hello(const VariantMap& request) {
    return guarded("Hello", [&] {
        auto who = authorize(request, Permission::Read, "hello");
        return VariantMap{
            {"version", std::string(projectVersion())}, {"user", who.user}, {"role", who.role}};
    });
}

VariantMap SchedulerBus::AddUser(const VariantMap& request) {
    return guarded("AddUser", [&] {
        auto who = authorize(request, Permission::Admin, "add-user");
        auto name = unwrap(getString(request, "name"));
        auto role = unwrap(getString(request, "role", "researcher"));
        auto added = unwrap(deps_.users.addUser(name, role));
        audit()->info("AUDIT user={} action=add-user target={} role={} result=done", who.user, name,
                      role);
        return VariantMap{
            {"name", added.user.name}, {"role", added.user.role}, {"api_key", added.apiKey}};
    });
}

VariantMap SchedulerBus::MissingBlobs(const VariantMap& request) {
    return guarded("MissingBlobs", [&] {
        authorize(request, Permission::Upload, "missing-blobs");
        auto hashes = unwrap(getStringList(request, "hashes"));
        std::vector<std::string> missing;
        for (const auto& hash : hashes) {
            if (!Sha256::isValidHex(hash)) {
                fail(makeError(ErrorCode::InvalidArgument,
                               "hashes: '" + hash.substr(0, 80) + "' is not a SHA-256 hex digest"));
            }
            if (!deps_.store.has(hash)) {
                missing.push_back(hash);
            }
        }
        return VariantMap{{"missing", missing}};
    });
}

VariantMap SchedulerBus::PutBlobs(const VariantMap& request, const sdbus::UnixFd& pack) {
    return guarded("PutBlobs", [&] {
        auto who = authorize(request, Permission::Upload, "put-blobs");
        PackReader reader(deps_.store);
        auto stats = unwrap(reader.read(pack.get()));
        log()->info("{} stored {} blobs ({} already present, {} bytes)", who.user, stats.stored,
                    stats.present, stats.bytes);
        return VariantMap{{"stored", static_cast<std::uint32_t>(stats.stored)},
                          {"present", static_cast<std::uint32_t>(stats.present)},
                          {"bytes", static_cast<std::uint64_t>(stats.bytes)}};
    });
}

VariantMap SchedulerBus::PutManifest(const VariantMap& request) {
    return guarded("PutManifest", [&] {
        auto who = authorize(request, Permission::Upload, "put-manifest");
        auto text = unwrap(getString(request, "manifest"));
        auto parsed = Manifest::parse(text);
        if (!parsed) {
            fail(makeError(ErrorCode::InvalidArgument, "manifest: " + parsed.error().message));
        }
        for (const auto& entry : parsed->entries()) {
            if (!deps_.store.has(entry.sha256)) {
                fail(makeError(ErrorCode::InvalidArgument, "manifest: blob " + entry.sha256 +
                                                               " of " + entry.path +
                                                               " is not stored (PutBlobs it)"));
            }
        }
        std::string id = parsed->commitId();
        unwrap(deps_.jobs.putCommit(id, text, "commit", who.user));
        return VariantMap{{"commit", id}};
    });
}

VariantMap SchedulerBus::GetManifest(const VariantMap& request) {
    return guarded("GetManifest", [&] {
        authorize(request, Permission::Read, "get-manifest");
        auto id = unwrap(getString(request, "commit"));
        auto text = unwrap(deps_.jobs.getCommit(id));
        if (!text) {
            fail(makeError(ErrorCode::NotFound, "commit " + id.substr(0, 80) + " is not known"));
        }
        return VariantMap{{"manifest", *text}};
    });
}

sdbus::UnixFd SchedulerBus::OpenBlob(const VariantMap& request) {
    return guarded("OpenBlob", [&] {
        authorize(request, Permission::Read, "open-blob");
        auto hash = unwrap(getString(request, "hash"));
        auto fd = unwrap(deps_.store.open(hash));
        return sdbus::UnixFd(fd.release(), sdbus::adopt_fd);
    });
}

VariantMap SchedulerBus::SubmitJob(const VariantMap& request) {
    return guarded("SubmitJob", [&] {
        auto who = authorize(request, Permission::Submit, "submit");
        JobSpec spec;
        spec.user = who.user;
        spec.commit = unwrap(getString(request, "commit"));
        spec.command = unwrap(getStringList(request, "command"));
        spec.image = unwrap(getString(request, "image", ""));
        spec.name = unwrap(getString(request, "name", ""));
        auto priority = unwrap(getInt64(request, "priority", 0));
        if (priority < Scheduler::kMinPriority || priority > Scheduler::kMaxPriority) {
            fail(makeError(ErrorCode::InvalidArgument,
                           "priority: expected " + std::to_string(Scheduler::kMinPriority) +
                               " to " + std::to_string(Scheduler::kMaxPriority)));
        }
        spec.priority = static_cast<std::int32_t>(priority);
        spec.params = unwrap(getStringMap(request, "params", {}));
        auto job = unwrap(deps_.scheduler.submit(std::move(spec)));
        audit()->info("AUDIT user={} action=submit JOB_ID={} result=queued", who.user, job.id);
        return jobToVariantMap(job);
    });
}

VariantMap SchedulerBus::GetJob(const VariantMap& request) {
    return guarded("GetJob", [&] {
        authorize(request, Permission::Read, "get-job");
        return jobToVariantMap(unwrap(deps_.jobs.get(unwrap(getString(request, "id")))));
    });
}

std::vector<VariantMap> SchedulerBus::ListJobs(const VariantMap& request) {
    return guarded("ListJobs", [&] {
        authorize(request, Permission::Read, "list-jobs");
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
        std::vector<VariantMap> out;
        for (const auto& job : unwrap(deps_.jobs.list(state, static_cast<std::uint32_t>(limit)))) {
            out.push_back(jobToVariantMap(job));
        }
        return out;
    });
}

VariantMap SchedulerBus::CancelJob(const VariantMap& request) {
    return guarded("CancelJob", [&] {
        auto who = authorize(request, Permission::Cancel, "cancel");
        auto id = unwrap(getString(request, "id"));
        auto job = deps_.scheduler.cancel(who, id);
        audit()->info("AUDIT user={} action=cancel JOB_ID={} result={}", who.user, id,
                      job ? "done" : errorCodeName(job.error().code));
        return jobToVariantMap(unwrap(std::move(job)));
    });
}

VariantMap SchedulerBus::ReadLog(const VariantMap& request) {
    return guarded("ReadLog", [&] {
        auto who = authorize(request, Permission::Read, "read-log");
        return readLog(who, request);
    });
}

VariantMap SchedulerBus::readLog(const Identity&, const VariantMap& request) {
    auto job = unwrap(deps_.jobs.get(unwrap(getString(request, "id"))));
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
