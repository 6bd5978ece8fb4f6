#include "SchedulerProxy.hpp"

#include <fcntl.h>

#include <chrono>

#include "dbus/Scheduler1Proxy.h"

namespace fetchml::edge {

namespace {
constexpr const char* kService = "org.fetchml.Scheduler1";
constexpr const char* kObject = "/org/fetchml/Scheduler1";
constexpr const char* kInterface = "org.fetchml.Scheduler1";
// Uploads of up to https.max_body_bytes are verified by fetchmld while it reads them.
constexpr auto kCallTimeout = std::chrono::minutes(10);
}  // namespace

/// The generated proxy. registerProxy() is never called: the edge does not subscribe to
/// JobChanged here, so no signal piles up on a connection that only makes blocking calls.
class SchedulerProxy::Glue : public sdbus::ProxyInterfaces<org::fetchml::Scheduler1_proxy> {
public:
    explicit Glue(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, kService, kObject) {}
    sdbus::IProxy& raw() { return getProxy(); }

private:
    void onJobChanged(const std::string&, const std::string&, const VariantMap&) override {}
};

SchedulerProxy::SchedulerProxy(const std::string& bus) {
    connection_ =
        bus == "session" ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
    connection_->setMethodCallTimeout(kCallTimeout);
    glue_ = std::make_unique<Glue>(*connection_);
}

SchedulerProxy::~SchedulerProxy() = default;

Error SchedulerProxy::errorFrom(const sdbus::Error& error) {
    const std::string& name = error.getName();
    if (name.rfind("org.fetchml.Error.", 0) == 0) {
        return makeError(errorCodeFromDbusName(name), error.getMessage());
    }
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
        name == "org.freedesktop.DBus.Error.NoReply" ||
        name == "org.freedesktop.DBus.Error.Timeout" ||
        name == "org.freedesktop.DBus.Error.TimedOut") {
        return makeError(ErrorCode::Busy, "the scheduler is not available, try again later");
    }
    // Other bus errors are ours to fix (bus policy, a broken connection): no detail to peers.
    return makeError(ErrorCode::Internal, "scheduler call failed (" + name + ")");
}

Result<VariantMap> SchedulerProxy::call(const std::string& method, const VariantMap& request) {
    try {
        VariantMap reply;
        glue_->raw()
            .callMethod(method)
            .onInterface(kInterface)
            .withArguments(request)
            .storeResultsTo(reply);
        return reply;
    } catch (const sdbus::Error& e) {
        return errorFrom(e);
    }
}

Result<VariantMap> SchedulerProxy::putBlobs(const VariantMap& request, int pack) {
    try {
        return glue_->PutBlobs(request, sdbus::UnixFd(pack));
    } catch (const sdbus::Error& e) {
        return errorFrom(e);
    }
}

Result<int> SchedulerProxy::openBlob(const VariantMap& request) {
    try {
        sdbus::UnixFd fd = glue_->OpenBlob(request);
        return fd.release();
    } catch (const sdbus::Error& e) {
        return errorFrom(e);
    }
}

Result<std::vector<VariantMap>> SchedulerProxy::listJobs(const VariantMap& request) {
    try {
        return glue_->ListJobs(request);
    } catch (const sdbus::Error& e) {
        return errorFrom(e);
    }
}

Result<std::vector<VariantMap>> SchedulerProxy::listKeys(const VariantMap& request) {
    try {
        return glue_->ListKeys(request);
    } catch (const sdbus::Error& e) {
        return errorFrom(e);
    }
}

}  // namespace fetchml::edge
