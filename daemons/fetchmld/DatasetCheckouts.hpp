#pragma once
// DatasetCheckouts: the read-only copies of dataset versions that jobs mount. A version is
// written out once, at the first job that reads it, to <runs>/datasets/<tree id>, and every job
// that reads it mounts that directory read-only at /workspace/data/<name> (decisions.md
// "Datasets"). The directory appears by rename(2) only when complete, so an existing one is
// always whole. Prune removes the copies that no dataset version and no unfinished job names.

#include <set>
#include <string>
#include <vector>

#include "core/Result.hpp"
#include "store/BlobStore.hpp"

namespace fetchml {

/// Dataset copies below one runs directory.
class DatasetCheckouts {
public:
    /// runsDir: <state_dir>/runs (the worker's BindPaths= already holds it).
    DatasetCheckouts(std::string runsDir, const BlobStore& store)
        : runsDir_(std::move(runsDir)), store_(store) {}

    /// <runs>/datasets/<tree>.
    std::string dirOf(const std::string& tree) const;
    /// The copy of tree (manifestText its manifest), written now when there is none: files
    /// 0444 (0555 executable), directories 0755, into a temporary directory renamed into place.
    /// Returns its directory. Errors: those of TreeIo::materialize (a missing blob is
    /// NotFound), Internal naming the path when a directory cannot be made or renamed.
    Result<std::string> ensure(const std::string& tree, const std::string& manifestText);
    /// Removes every copy below runsDir whose tree is not in keep, and temporary directories
    /// left by a crash. Returns how many copies were removed; failures are appended to left as
    /// "<path>: <why>".
    static std::size_t removeExcept(const std::string& runsDir, const std::set<std::string>& keep,
                                    std::vector<std::string>& left);

private:
    std::string runsDir_;
    const BlobStore& store_;
};

}  // namespace fetchml
