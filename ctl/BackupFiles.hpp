#pragma once
// File helpers of `fetchmlctl backup` and `restore`: listing a store's blobs, copying a file
// while hashing it, durable atomic writes. Errors name the path.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// Blob hash → size in bytes of every blob file under <storeRoot>/objects/sha256/ab/cdef...
/// Names that are not a blob (temporary files, malformed hashes, non-regular files) are left
/// out. A missing objects directory is an empty store. Errors: Internal naming the directory.
Result<std::map<std::string, std::uint64_t>> listStoreBlobs(const std::string& storeRoot);

/// What copyHashed wrote.
struct HashedCopy {
    std::string sha256;      ///< of the bytes copied
    std::uint64_t size = 0;  ///< bytes copied
};

/// Copies everything from srcFd (from its offset to end of file) into a new file at
/// destPath (O_EXCL, the given mode), hashing it on the way, and fsyncs it. On error the new
/// file is removed. Errors: Internal naming srcName or destPath.
Result<HashedCopy> copyHashed(int srcFd, const std::string& srcName, const std::string& destPath,
                              mode_t mode);

/// fsync(2) of a directory, so that names created or renamed in it are durable.
Result<void> fsyncDir(const std::string& dir);

/// Writes content to <path>.tmp (mode), fsyncs it, renames it to path and fsyncs the
/// directory: readers see the old file or the whole new one.
Result<void> writeFileAtomic(const std::string& path, std::string_view content, mode_t mode);

/// mkdir -p with mode for the directories it creates (umask applies).
Result<void> makeDirs(const std::string& path, mode_t mode);

/// The directory part of a path ("." when there is none).
std::string parentDir(const std::string& path);

/// unlink(2) that treats a missing file as success.
Result<void> removeFile(const std::string& path);

}  // namespace fetchml::ctl
