#pragma once
// DbusTransport: calls org.fetchml.Scheduler1 on the system bus (DBUS_SYSTEM_BUS_ADDRESS is
// honoured, so tests and the development stack use a private bus). Blobs go as a pack in an
// unlinked temporary file passed as a file descriptor, never inside messages.

#include <sdbus-c++/sdbus-c++.h>
#include <map>
#include <memory>

#include "Transport.hpp"

namespace fetchml::ctl {

class SchedulerProxy;

/// Transport over D-Bus. The caller is its Unix user, or the owner of apiKey when one is set.
class DbusTransport : public Transport {
public:
    /// Connects to the system bus. Errors: Internal "cannot connect to the system bus: <why>".
    static Result<std::unique_ptr<DbusTransport>> create(const std::string& apiKey);
    ~DbusTransport() override;

    Result<nlohmann::json> addUser(const std::string& name, const std::string& role) override;
    Result<nlohmann::json> hello() override;
    Result<nlohmann::json> createKey(const std::string& user, const std::string& role,
                                     std::int64_t expiresAt) override;
    Result<nlohmann::json> listKeys(const std::string& user) override;
    Result<nlohmann::json> revokeKey(const std::string& keyId) override;
    Result<std::vector<std::string>> missingBlobs(const std::vector<std::string>& hashes) override;
    Result<ChunksMissing> missingChunks(const std::vector<std::string>& hashes,
                                        const std::vector<std::string>& bases) override;
    Result<nlohmann::json> putChunkedFile(const std::string& sha256, std::uint64_t size,
                                          const std::string& parts,
                                          const std::string& base) override;
    Result<nlohmann::json> putBlobs(PackWriter& pack) override;
    Result<std::string> putManifest(const std::string& manifest) override;
    Result<std::string> getManifest(const std::string& id) override;
    Result<std::uint64_t> fetchBlob(const std::string& sha256, int fd) override;
    Result<nlohmann::json> submitJob(const nlohmann::json& request) override;
    Result<nlohmann::json> submitSweep(const nlohmann::json& request) override;
    Result<nlohmann::json> getJob(const std::string& id) override;
    Result<nlohmann::json> listJobs(const std::string& state, std::uint32_t limit,
                                    const std::string& before, const std::string& sweep) override;
    Result<nlohmann::json> cancelJob(const std::string& id) override;
    Result<nlohmann::json> cancelSweep(const std::string& id) override;
    Result<nlohmann::json> pruneJobs(const nlohmann::json& request) override;
    Result<nlohmann::json> addPin(const std::string& target, const std::string& note) override;
    Result<nlohmann::json> listPins() override;
    Result<nlohmann::json> removePin(const std::string& target) override;
    Result<nlohmann::json> addDatasetVersion(const std::string& name,
                                             const std::string& tree) override;
    Result<nlohmann::json> listDatasets() override;
    Result<nlohmann::json> getDataset(const std::string& ref) override;
    Result<nlohmann::json> removeDataset(const std::string& ref) override;
    Result<LogChunk> readLog(const std::string& id, std::uint64_t offset,
                             std::uint32_t max) override;
    Result<JobResults> jobResults(const std::string& id) override;

    /// The Error for a D-Bus error: org.fetchml.Error.* keep their kind; AccessDenied is
    /// PermissionDenied; anything else (no such service, no reply, disconnected) is Internal
    /// "cannot reach fetchmld on the system bus: <message>".
    static Error fromDbusError(const std::string& name, const std::string& message);

private:
    using Dict = std::map<std::string, sdbus::Variant>;
    DbusTransport(std::unique_ptr<sdbus::IConnection> connection, std::string apiKey);
    Dict request() const;
    /// The SubmitJob fields of a JSON request, each with the D-Bus type the XML documents.
    Dict jobRequest(const nlohmann::json& job) const;

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<SchedulerProxy> proxy_;
    std::string apiKey_;
};

}  // namespace fetchml::ctl
