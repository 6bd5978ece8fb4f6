#pragma once
// TreeIo: moving trees between directories and the store. materialize() writes the files of a
// commit into a run's code directory; ingest() stores a job's results directory.

#include <string>

#include "core/Result.hpp"
#include "store/BlobStore.hpp"
#include "store/Manifest.hpp"

namespace fetchml {

/// Between a directory on disk and the content-addressed store.
class TreeIo {
public:
    /// Writes every file of manifest into dir (created with mode 0755 if missing; it may exist
    /// but no file of the manifest may). Directories get 0755, files 0444, or 0555 when the
    /// mode is 100755: code is read-only. Paths are walked with openat(2) and O_NOFOLLOW, so a
    /// symbolic link in dir cannot redirect a write. Each blob's size is checked against the
    /// manifest. Errors: NotFound "blob <hash> for <path> is not in the store", InvalidArgument
    /// when a file already exists or a blob's size differs, Internal naming the path otherwise.
    static Result<void> materialize(const Manifest& manifest, const BlobStore& store,
                                    const std::string& dir);

    /// Scans dir (Manifest::scan rules) and puts every file into the store. Returns the
    /// manifest (its skipped() lists what was left out). Errors: those of Manifest::scan and
    /// BlobStore::putFile.
    static Result<Manifest> ingest(const std::string& dir, BlobStore& store);
};

}  // namespace fetchml
