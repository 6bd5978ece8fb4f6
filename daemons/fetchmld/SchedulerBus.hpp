#pragma once
// SchedulerBus: the org.fetchml.Scheduler1 object (/org/fetchml/Scheduler1), implemented on
// the adaptor generated from common/dbus/org.fetchml.Scheduler1.xml. Every call is
// authenticated (API key or the sender's Unix user), checked against the caller's permissions
// (own/any for jobs and keys), and audited once (core/Audit.hpp: ok, denied or failed; the
// request field "remote_addr" that fetchml-httpsd adds becomes REMOTE_ADDR). Result errors
// become sdbus::Error("org.fetchml.Error.<Code>", sentence).
//
// SubmitJob is answered asynchronously (group commit, decisions.md "Group commit of
// submissions"): a valid submission waits in pending_ until the loop's defer source runs
// commitSubmissions(), which stores every waiting job in one transaction and then answers each
// caller. Errors found before that (authentication, permission, validation) are answered at
// once. PruneJobs is answered asynchronously too: PruneRunner calls back when the prune,
// with its collection of the store, is complete.

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-event.h>

#include <optional>
#include <string>
#include <vector>

#include "Authenticator.hpp"
#include "BusPeer.hpp"
#include "ChunkedFiles.hpp"
#include "DatasetStore.hpp"
#include "JobStore.hpp"
#include "PinStore.hpp"
#include "PruneRunner.hpp"
#include "Scheduler.hpp"
#include "UserStore.hpp"
#include "dbus/Scheduler1Adaptor.h"
#include "proto/VariantJson.hpp"
#include "store/BlobStore.hpp"
#include "sys/SdEvent.hpp"

namespace fetchml {

/// Object path of the scheduler.
inline constexpr const char* kSchedulerObjectPath = "/org/fetchml/Scheduler1";
/// Well-known bus name of the scheduler.
inline constexpr const char* kSchedulerBusName = "org.fetchml.Scheduler1";

/// What SchedulerBus works on (all owned by the daemon, outliving the object).
struct SchedulerBusDeps {
    Authenticator& auth;
    UserStore& users;
    JobStore& jobs;
    Scheduler& scheduler;
    BlobStore& store;
    PruneRunner& prunes;
    PinStore& pins;
    ChunkedFiles& chunks;
    DatasetStore& datasets;
    /// The loop whose defer source commits waiting submissions together (group commit);
    /// nullptr: each SubmitJob is stored and answered on its own.
    sd_event* loop = nullptr;
};

/// The D-Bus object. Registers in the constructor, unregisters in the destructor.
class SchedulerBus final : public sdbus::AdaptorInterfaces<org::fetchml::Scheduler1_adaptor> {
public:
    /// Largest ReadLog answer in bytes.
    static constexpr std::uint64_t kMaxLogRead = 1u << 20;

    /// Throws std::system_error when the loop refuses the defer source (start-up).
    SchedulerBus(sdbus::IConnection& connection, SchedulerBusDeps deps);
    ~SchedulerBus();

    /// Group commit: stores every submission waiting since the last commit in ONE transaction
    /// (Scheduler::submitBatch), then answers each caller with its job, or every caller with
    /// the error when the transaction failed (then none is stored), and only then runs one
    /// dispatch pass. Run by the defer source;
    /// the daemon calls it once more as it stops, so no valid submission is left unanswered.
    void commitSubmissions();

    /// Emits JobChanged(id, state, job dictionary of JobFields.hpp).
    void jobChanged(const Job& job);

private:
    VariantMap Hello(const VariantMap& request) override;
    VariantMap AddUser(const VariantMap& request) override;
    VariantMap CreateKey(const VariantMap& request) override;
    std::vector<VariantMap> ListKeys(const VariantMap& request) override;
    VariantMap RevokeKey(const VariantMap& request) override;
    VariantMap MissingBlobs(const VariantMap& request) override;
    VariantMap PutBlobs(const VariantMap& request, const sdbus::UnixFd& pack) override;
    VariantMap MissingChunks(const VariantMap& request) override;
    VariantMap PutChunkedFile(const VariantMap& request) override;
    VariantMap PutManifest(const VariantMap& request) override;
    VariantMap GetManifest(const VariantMap& request) override;
    sdbus::UnixFd OpenBlob(const VariantMap& request) override;
    void SubmitJob(sdbus::Result<VariantMap>&& result, VariantMap request) override;
    VariantMap SubmitSweep(const VariantMap& request) override;
    VariantMap GetJob(const VariantMap& request) override;
    std::vector<VariantMap> ListJobs(const VariantMap& request) override;
    VariantMap CancelJob(const VariantMap& request) override;
    VariantMap CancelSweep(const VariantMap& request) override;
    void PruneJobs(sdbus::Result<VariantMap>&& result, VariantMap request) override;
    VariantMap AddPin(const VariantMap& request) override;
    VariantMap ListPins(const VariantMap& request) override;
    VariantMap RemovePin(const VariantMap& request) override;
    VariantMap AddDatasetVersion(const VariantMap& request) override;
    VariantMap ListDatasets(const VariantMap& request) override;
    VariantMap GetDataset(const VariantMap& request) override;
    VariantMap RemoveDataset(const VariantMap& request) override;
    VariantMap ReadLog(const VariantMap& request) override;

    /// The caller of the message being processed; audits and throws Unauthenticated.
    Identity authenticate(const VariantMap& request, const char* action);
    /// authenticate + require(permission); audits and throws PermissionDenied.
    Identity authorize(const VariantMap& request, Permission permission, const char* action);
    /// Throws (after auditing) when `allowed` is an error.
    void enforce(const Identity& who, const Result<void>& allowed, const char* action,
                 const std::string& jobId = "");
    /// Audits a successful action.
    void done(const Identity& who, const char* action, const std::string& message,
              const std::string& jobId = "");
    /// The job, once the caller may read it (own/any).
    Job readableJob(const Identity& who, const VariantMap& request, const char* action);
    VariantMap readLog(const Job& job, const VariantMap& request);
    /// The fields of a SubmitJob (or SubmitSweep) request as a JobSpec for user; throws
    /// InvalidArgument naming the field.
    JobSpec specFromRequest(const VariantMap& request, const std::string& user);
    /// The exact dataset versions of a request's "data" ("NAME" or "NAME@VERSION" each);
    /// fails with InvalidArgument "data: ..." or NotFound "data: ... does not exist".
    std::vector<DataRef> resolveData(const std::vector<std::string>& refs);
    /// The filter of a PruneJobs request; throws InvalidArgument naming the field.
    static PruneFilter pruneFilterFromRequest(const VariantMap& request);
    /// Throws (InvalidArgument "after: job <id> does not exist", as for a missing one) when a
    /// dependency of `spec` is a job `who` may not read: waiting on another user's job would
    /// tell how it ended.
    void checkDependenciesReadable(const Identity& who, const JobSpec& spec);

    /// Runs a method body (see SchedulerBus.cpp).
    template <typename F>
    auto guarded(const char* method, F&& body) -> decltype(body());
    /// Audits a call that failed after authentication, unless it was audited already.
    void auditFailure(const std::string& why);

    /// The call being served (one at a time: the bus is served from one loop).
    struct CallState {
        std::optional<Identity> who;
        std::string action;
        bool audited = false;
    };

    /// A valid SubmitJob waiting for the next group commit.
    struct PendingSubmission {
        Identity who;
        JobSpec spec;  ///< as Scheduler::prepare() returned it
        sdbus::Result<VariantMap> result;
    };
    static int onCommit(sd_event_source* source, void* self);

    SchedulerBusDeps deps_;
    BusPeer peers_;  ///< the uid of local callers, from the bus
    CallState call_;
    std::vector<PendingSubmission> pending_;
    SdEventSourcePtr committer_;  ///< defer source, enabled (one shot) while pending_ has any
};

}  // namespace fetchml
