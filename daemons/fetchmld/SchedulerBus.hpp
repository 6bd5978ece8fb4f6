#pragma once
// SchedulerBus: the org.fetchml.Scheduler1 object (/org/fetchml/Scheduler1), implemented on
// the adaptor generated from common/dbus/org.fetchml.Scheduler1.xml. Every call is
// authenticated (API key or the sender's Unix user), checked against the caller's role,
// audited, and its Result errors become sdbus::Error("org.fetchml.Error.<Code>", sentence).

#include <sdbus-c++/sdbus-c++.h>

#include <string>

#include "Authenticator.hpp"
#include "JobStore.hpp"
#include "Scheduler.hpp"
#include "UserStore.hpp"
#include "dbus/Scheduler1Adaptor.h"
#include "proto/VariantJson.hpp"
#include "store/BlobStore.hpp"

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
};

/// The D-Bus object. Registers in the constructor, unregisters in the destructor.
class SchedulerBus final : public sdbus::AdaptorInterfaces<org::fetchml::Scheduler1_adaptor> {
public:
    /// Largest ReadLog answer in bytes.
    static constexpr std::uint64_t kMaxLogRead = 1u << 20;

    SchedulerBus(sdbus::IConnection& connection, SchedulerBusDeps deps);
    ~SchedulerBus();

    /// A job as a dictionary (the GetJob reply).
    static VariantMap jobToVariantMap(const Job& job);
    /// Emits JobChanged(id, state, job dictionary).
    void jobChanged(const Job& job);

private:
    VariantMap Hello(const VariantMap& request) override;
    VariantMap AddUser(const VariantMap& request) override;
    VariantMap MissingBlobs(const VariantMap& request) override;
    VariantMap PutBlobs(const VariantMap& request, const sdbus::UnixFd& pack) override;
    VariantMap PutManifest(const VariantMap& request) override;
    VariantMap GetManifest(const VariantMap& request) override;
    sdbus::UnixFd OpenBlob(const VariantMap& request) override;
    VariantMap SubmitJob(const VariantMap& request) override;
    VariantMap GetJob(const VariantMap& request) override;
    std::vector<VariantMap> ListJobs(const VariantMap& request) override;
    VariantMap CancelJob(const VariantMap& request) override;
    VariantMap ReadLog(const VariantMap& request) override;

    Identity authorize(const VariantMap& request, Permission permission, const char* action);
    VariantMap readLog(const Identity& caller, const VariantMap& request);

    SchedulerBusDeps deps_;
};

}  // namespace fetchml
