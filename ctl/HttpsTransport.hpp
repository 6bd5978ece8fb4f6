#pragma once
// HttpsTransport: the routes of fetchml-httpsd (docs/architecture/decisions.md "HTTPS API").

#include <memory>

#include "CtlContext.hpp"
#include "Transport.hpp"
#include "net/HttpsClient.hpp"

namespace fetchml::ctl {

/// The HttpsTransportFactory of fetchmlctl-full: checks config.server (an https:// URL), that
/// a fingerprint is pinned (or insecure) and that there is an API key, then sets up the
/// client. Returns nullptr and sets failure (usage, exit 1) naming what is missing or wrong.
std::unique_ptr<Transport> makeHttpsTransport(const ClientConfig& config, bool insecure,
                                              Outcome& failure);

/// Transport over HTTPS with a pinned certificate and a bearer API key.
class HttpsTransport : public Transport {
public:
    /// Takes a client that is set up (pin, bearer token).
    explicit HttpsTransport(std::unique_ptr<HttpsClient> client) : client_(std::move(client)) {}

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

private:
    std::unique_ptr<HttpsClient> client_;
};

}  // namespace fetchml::ctl
