#pragma once
// Transport: how fetchmlctl reaches fetchmld. DbusTransport calls it on the system bus (host
// admins, local users); HttpsTransport goes through fetchml-httpsd (LAN clients). Both speak
// the same JSON shapes: a job is the dictionary GetJob returns (common/dbus XML) as JSON.
// Every method returns the server's error (kind and sentence) or a connection error
// (Internal) unchanged.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {
class PackWriter;
}

namespace fetchml::ctl {

/// A piece of a job's log.
struct LogChunk {
    std::string data;          ///< bytes of the log
    std::uint64_t offset = 0;  ///< offset to ask for next, bytes
    bool eof = false;          ///< the job has finished and the whole log was read
};

/// A job's results tree.
struct JobResults {
    std::string id;        ///< results tree id
    std::string manifest;  ///< its manifest text
};

/// What MissingChunks answered.
struct ChunksMissing {
    std::vector<std::string> missing;       ///< hashes the server cannot produce
    std::vector<std::string> basesMissing;  ///< bases it does not store
};

/// The operations fetchmlctl needs from the scheduler.
class Transport {
public:
    virtual ~Transport() = default;

    /// Creates a user; returns {"name","role","api_key"}.
    virtual Result<nlohmann::json> addUser(const std::string& name, const std::string& role) = 0;
    /// Who the server takes the caller for: {"version","user","role","permissions",
    /// "rate_limit_per_minute"} (Hello).
    virtual Result<nlohmann::json> hello() = 0;
    /// A new API key for user ("" = the caller) with role ("" = the user's) and expiresAt
    /// (ms since the epoch, 0 = never); the key dictionary with "api_key", shown once.
    virtual Result<nlohmann::json> createKey(const std::string& user, const std::string& role,
                                             std::int64_t expiresAt) = 0;
    /// Keys (never secrets) of user ("" = the caller's, or everyone's for an admin); a JSON
    /// array of key dictionaries.
    virtual Result<nlohmann::json> listKeys(const std::string& user) = 0;
    /// Revokes a key by id; the key dictionary.
    virtual Result<nlohmann::json> revokeKey(const std::string& keyId) = 0;
    /// The hashes of the given blobs that the store lacks.
    virtual Result<std::vector<std::string>> missingBlobs(
        const std::vector<std::string>& hashes) = 0;
    /// Uploads a pack of blobs; returns {"stored","present","bytes"}.
    virtual Result<nlohmann::json> putBlobs(PackWriter& pack) = 0;
    /// Of the given chunk (or piece) hashes, those the server can produce neither from a
    /// stored blob nor from a stored file, and of bases (files deltas will be against), those
    /// it does not store (MissingChunks, decisions.md "Chunked files").
    virtual Result<ChunksMissing> missingChunks(const std::vector<std::string>& hashes,
                                                const std::vector<std::string>& bases) = 0;
    /// Asks the server to store the file sha256 of size bytes from its parts (parts in the text
    /// form of store/ChunkList.hpp, formatFileParts; ranges of base when base is not "");
    /// returns {"stored","from_blobs","from_files"}. A base the server no longer stores is
    /// NotFound, a delta that does not build the file InvalidArgument.
    virtual Result<nlohmann::json> putChunkedFile(const std::string& sha256, std::uint64_t size,
                                                  const std::string& parts,
                                                  const std::string& base) = 0;
    /// Records a manifest; returns its commit id.
    virtual Result<std::string> putManifest(const std::string& manifest) = 0;
    /// Fetches the manifest text of a commit or results tree.
    virtual Result<std::string> getManifest(const std::string& id) = 0;
    /// Writes one blob's bytes to fd; returns the byte count.
    virtual Result<std::uint64_t> fetchBlob(const std::string& sha256, int fd) = 0;
    /// Queues a job: request {"commit","command","image","priority","params","name"}; the job.
    virtual Result<nlohmann::json> submitJob(const nlohmann::json& request) = 0;
    /// Queues a sweep in one call: request as for submitJob plus "sweep", the axes in order
    /// as [{"name": s, "values": [s...]}]; returns {"sweep": id, "jobs": [ids], "state"}.
    virtual Result<nlohmann::json> submitSweep(const nlohmann::json& request) = 0;
    /// One job.
    virtual Result<nlohmann::json> getJob(const std::string& id) = 0;
    /// Jobs, newest first (state "" = all), of sweep `sweep` ("" = any), older than job
    /// `before` ("" = from the newest); a JSON array of jobs.
    virtual Result<nlohmann::json> listJobs(const std::string& state, std::uint32_t limit,
                                            const std::string& before,
                                            const std::string& sweep) = 0;
    /// Cancels a job; the job after the request.
    virtual Result<nlohmann::json> cancelJob(const std::string& id) = 0;
    /// Cancels every job of a sweep; {"sweep", "cancelled", "stopping", "unreachable"}.
    virtual Result<nlohmann::json> cancelSweep(const std::string& id) = 0;
    /// Removes finished jobs, then the store's garbage: request {"states": [s],
    /// "older_than_ms": x, "keep_last": u, "dry_run": b} (each optional); returns {"pruned",
    /// "kept", "dirs_left", "trees_removed", "blobs_removed", "bytes_freed", "gc_skipped",
    /// "dry_run"}.
    virtual Result<nlohmann::json> pruneJobs(const nlohmann::json& request) = 0;
    /// Pins a recorded tree (commit or results tree id) with a note ("" = none); the pin
    /// {"target", "kind", "note", "user", "created_at"}.
    virtual Result<nlohmann::json> addPin(const std::string& target, const std::string& note) = 0;
    /// Every pin, newest first: a JSON array of pins.
    virtual Result<nlohmann::json> listPins() = 0;
    /// Removes a pin; the pin as it was.
    virtual Result<nlohmann::json> removePin(const std::string& target) = 0;
    /// Adds a version of dataset name from a recorded tree (AddDatasetVersion); the version
    /// {"name","version","tree","files","bytes","user","created_at","created"} ("created"
    /// false when tree is the latest version already, which is then returned).
    virtual Result<nlohmann::json> addDatasetVersion(const std::string& name,
                                                     const std::string& tree) = 0;
    /// Every dataset by name: a JSON array of latest versions, each with "versions" (count) and
    /// "owner".
    virtual Result<nlohmann::json> listDatasets() = 0;
    /// One dataset, ref "NAME" (every version) or "NAME@VERSION" (that one):
    /// {"name","owner","versions": [version...], newest first}.
    virtual Result<nlohmann::json> getDataset(const std::string& ref) = 0;
    /// Removes a version ("NAME@VERSION") or the whole dataset ("NAME"):
    /// {"name","versions": [the removed versions]}.
    virtual Result<nlohmann::json> removeDataset(const std::string& ref) = 0;
    /// Reads the log from offset (bytes), at most max bytes.
    virtual Result<LogChunk> readLog(const std::string& id, std::uint64_t offset,
                                     std::uint32_t max) = 0;
    /// The results tree of a finished job (NotFound until it has been ingested).
    virtual Result<JobResults> jobResults(const std::string& id) = 0;
};

}  // namespace fetchml::ctl
