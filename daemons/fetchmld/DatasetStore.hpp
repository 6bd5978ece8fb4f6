#pragma once
// DatasetStore: datasets (`fetchmlctl data`, tables datasets and dataset_versions of schema
// version 11). A dataset is a name with an owner and numbered, immutable versions; each version
// is a recorded tree (PutManifest), so its files are deduplicated against everything stored.
// Jobs name a version with --data NAME[@VERSION] and record the exact version and tree
// (docs/datasets.md, decisions.md "Datasets").

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Database.hpp"
#include "Job.hpp"
#include "JobStore.hpp"
#include "core/Result.hpp"
#include "store/DatasetRef.hpp"

namespace fetchml {

/// One version of a dataset.
struct DatasetVersion {
    std::string name;
    std::int64_t version = 0;    ///< 1, 2, ...
    std::string tree;            ///< the tree's id (64 lowercase hex digits)
    std::int64_t files = 0;      ///< files in the tree
    std::int64_t bytes = 0;      ///< sum of the files' sizes, bytes
    std::string user;            ///< who added it
    std::int64_t createdAt = 0;  ///< ms since the epoch
};

/// A dataset with some of its versions, newest first.
struct Dataset {
    std::string name;
    std::string owner;  ///< who added its first version
    std::vector<DatasetVersion> versions;
    std::int64_t versionCount = 0;  ///< how many versions it has (list(): versions holds 1)
};

/// Datasets of one database. Used from fetchmld's event loop only.
class DatasetStore {
public:
    /// Most datasets one job may name.
    static constexpr std::size_t kMaxPerJob = 16;

    explicit DatasetStore(Database& db, MsClock clock = wallClockMs)
        : db_(db), clock_(std::move(clock)) {}

    /// Adds tree as the next version of dataset name, creating the dataset (owned by user)
    /// when it has none; returns the version and whether it was created. When tree is the
    /// latest version already, nothing is added and that version is returned with false.
    /// Errors: InvalidArgument "name: ..."/"tree: ..."; NotFound "tree: <id> is not a recorded
    /// tree (PutManifest it first)"; SQLite's errors. One transaction.
    Result<std::pair<DatasetVersion, bool>> add(const std::string& name, const std::string& tree,
                                                const std::string& user);
    /// The owner of dataset name; nullopt when it was never created.
    Result<std::optional<std::string>> owner(const std::string& name);
    /// Every dataset with at least one version, by name; each holds its latest version only.
    Result<std::vector<Dataset>> list();
    /// Dataset ref.name with every version (ref.version 0) or that one. Errors: NotFound
    /// "data: <name> does not exist" or "data: <name>@<v> does not exist".
    Result<Dataset> get(const DatasetRef& ref);
    /// Removes version ref.version, or every version (0); returns the dataset with the removed
    /// versions. Version numbers are not reused. Errors: as get().
    Result<Dataset> remove(const DatasetRef& ref);
    /// The exact version a job's request names: ref.version, or the latest when 0; fills
    /// version and tree. Errors: NotFound "data: ..." as get().
    Result<DataRef> resolve(const DataRef& ref);

private:
    Database& db_;
    MsClock clock_;
};

}  // namespace fetchml
