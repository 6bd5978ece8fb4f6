#pragma once
// BlobCursor: walks the blobs of a BlobStore in bounded steps, for garbage collection on an
// event loop (fetchmld, decisions.md "Blob garbage collection"). The fan-out directories
// objects/sha256/00 ... ff are read in that order, one open at a time; only names that are a
// blob's (62 lowercase hex digits under a 2-digit directory) are returned.

#include <dirent.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/Result.hpp"
#include "store/BlobStore.hpp"

namespace fetchml {

/// One walk over a store's blobs.
class BlobCursor {
public:
    explicit BlobCursor(const BlobStore& store) : objects_(store.root() + "/objects/sha256") {}

    /// Appends the hashes of up to max more blobs to out; returns how many (0 = the walk is
    /// over). A blob added or removed during the walk may or may not be returned; removing the
    /// blobs just returned is safe. Errors: Internal naming a fan-out directory that cannot be
    /// read (a missing one is skipped).
    Result<std::size_t> next(std::vector<std::string>& out, std::size_t max);

private:
    struct DirCloser {
        void operator()(DIR* dir) const { ::closedir(dir); }
    };

    std::string objects_;
    int fanout_ = -1;     ///< the directory open in dir_ (0..255), -1 before the first
    std::string prefix_;  ///< its name, 2 hex digits
    std::unique_ptr<DIR, DirCloser> dir_;
};

}  // namespace fetchml
