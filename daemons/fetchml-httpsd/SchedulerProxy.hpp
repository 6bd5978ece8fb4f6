#pragma once
// SchedulerProxy: one D-Bus connection to fetchmld (org.fetchml.Scheduler1 on the system bus,
// or the session bus when scheduler.bus is "session") with the proxy generated from
// common/dbus/org.fetchml.Scheduler1.xml. Blocking calls; used by one thread only, because
// sd-bus connections are not thread-safe. Every sdbus::Error becomes a Result error:
// org.fetchml.Error.<Code> keeps its code and sentence; "fetchmld is not on the bus" and
// time-outs are Busy (503); anything else is Internal.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "core/Result.hpp"
#include "proto/VariantJson.hpp"

namespace fetchml::edge {

/// A blocking client of fetchmld on its own bus connection.
class SchedulerProxy {
public:
    /// Connects to the bus (`bus` is "system" or "session"; the system bus honours
    /// DBUS_SYSTEM_BUS_ADDRESS). Throws sdbus::Error when the bus cannot be reached
    /// (start-up only).
    explicit SchedulerProxy(const std::string& bus);
    ~SchedulerProxy();
    SchedulerProxy(const SchedulerProxy&) = delete;
    SchedulerProxy& operator=(const SchedulerProxy&) = delete;

    /// Calls a method that takes and returns a{sv} ("Hello", "AddUser", "MissingBlobs",
    /// "PutManifest", "GetManifest", "SubmitJob", "SubmitSweep", "GetJob", "CancelJob",
    /// "CancelSweep", "PruneJobs", "AddPin", "ListPins", "RemovePin", "AddDatasetVersion",
    /// "ListDatasets", "GetDataset", "RemoveDataset", "ReadLog").
    Result<VariantMap> call(const std::string& method, const VariantMap& request);
    /// PutBlobs(a{sv}, h) -> a{sv}: the pack is read by fetchmld from `pack` at offset 0.
    Result<VariantMap> putBlobs(const VariantMap& request, int pack);
    /// OpenBlob(a{sv}) -> h: a read-only descriptor of the blob, owned by the caller.
    Result<int> openBlob(const VariantMap& request);
    /// ListJobs(a{sv}) -> aa{sv}.
    Result<std::vector<VariantMap>> listJobs(const VariantMap& request);
    /// ListKeys(a{sv}) -> aa{sv}.
    Result<std::vector<VariantMap>> listKeys(const VariantMap& request);

    /// The Result error for an sdbus::Error (see the file comment).
    static Error errorFrom(const sdbus::Error& error);

private:
    class Glue;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<Glue> glue_;
};

}  // namespace fetchml::edge
