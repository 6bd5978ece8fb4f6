#pragma once
// BlobStore: the content-addressed store, one read-only file per blob named by the SHA-256 of
// its bytes. Layout (docs/architecture/decisions.md "State layout"):
//   <root>/objects/sha256/ab/cdef...   the blob whose hash is "abcdef...", mode 0444
//   <root>/tmp/                        temporary files, same file system, for atomic writes
//   <root>/lock                        garbage collection against backups (StoreLock.hpp)
// Writes are atomic and safe between processes: a blob is written to an unnamed temporary file
// (O_TMPFILE, or mkstemp(3) where that is not supported) while it is hashed, verified, fsync'd,
// made 0444 and only then linked into place with link(2)/linkat(2), which fails with EEXIST when
// another writer won the race; the directory is fsync'd afterwards.
// Garbage collection (fetchmld, decisions.md "Blob garbage collection") keeps a blob whose
// modification time is within its grace period, so every answer that vouches for a stored blob
// (retain(), and put*() finding the blob already there) sets that time to now: a blob is never
// rewritten once stored, and its mtime would otherwise stay that of its first upload.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/Result.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

/// Where the bytes of a blob come from: copies at most max bytes into buf and returns how many
/// (0 = the source ended), or an error that put() passes on unchanged.
using ByteSource = std::function<Result<std::size_t>(char* buf, std::size_t max)>;

/// A content-addressed blob store rooted at one directory. Copyable (it holds only paths and a
/// setting).
class BlobStore {
public:
    /// Opens the store at root, creating root, objects/sha256/ and tmp/ (mode 0750) if missing.
    /// allowTmpfile=false forces the mkstemp(3) path even where O_TMPFILE works (for tests).
    /// Errors: Internal naming the directory that could not be created.
    static Result<BlobStore> create(const std::string& root, bool allowTmpfile = true);

    /// The root directory.
    const std::string& root() const { return root_; }
    /// The temporary directory <root>/tmp.
    std::string tmpDir() const { return root_ + "/tmp"; }

    /// True when the blob is stored. False for malformed hashes.
    bool has(std::string_view sha256) const;
    /// True when the blob is stored, like has(), and marks it as just used: its modification
    /// time is set to now unless it is newer than refreshAfterMs() already (utimensat(2); a
    /// failure to set it is ignored, the blob is there). For every answer that tells a client
    /// or fetchmld itself that a blob may be relied on before a recorded tree names it.
    bool retain(std::string_view sha256) const;
    /// How old (ms) a blob's modification time must be before retain() rewrites it; 0 (the
    /// default) = always. fetchmld sets half its grace period, so that re-syncing an unchanged
    /// tree does not write every blob's inode while a blob retained stays protected at least
    /// half the grace period.
    std::int64_t refreshAfterMs() const { return refreshAfterMs_; }
    void setRefreshAfterMs(std::int64_t ms) { refreshAfterMs_ = ms; }
    /// Garbage collection: removes the blob when its modification time is before cutoffMs (ms
    /// since the epoch), checked and unlinked in one call. Returns the size it had; nullopt
    /// when it is newer (kept) or not there. With dryRun nothing is removed (the size of what
    /// would be is returned). The hash must be valid. Errors: Internal for a failed stat or
    /// unlink.
    Result<std::optional<std::uint64_t>> removeIfOlder(std::string_view sha256,
                                                       std::int64_t cutoffMs, bool dryRun);
    /// Path of the blob's file (whether it exists or not): <root>/objects/sha256/ab/cdef...
    /// The hash must be valid (Sha256::isValidHex); callers check it first.
    std::string path(std::string_view sha256) const;
    /// Opens the blob read-only (O_RDONLY|O_CLOEXEC).
    /// Errors: InvalidArgument for a malformed hash, NotFound "blob <hash> is not in the store",
    /// Internal for other failures.
    Result<UniqueFd> open(std::string_view sha256) const;
    /// Size of a stored blob in bytes. Errors as open().
    Result<std::uint64_t> size(std::string_view sha256) const;

    /// Stores exactly size bytes taken from source, which must hash to expectedSha256.
    /// Always consumes and verifies all size bytes, even when the blob is already present (then
    /// nothing is written, and it is retained as retain() does). Returns true when the blob was
    /// newly stored, false when it was already present (also when a concurrent writer stored it
    /// first). Errors: InvalidArgument when the hash is malformed, the source ends early ("blob
    /// <hash>: truncated after N of M bytes") or the bytes hash to something else ("blob <hash>:
    /// content hashes to <other>"); Internal for I/O failures. On error nothing is stored and no
    /// temporary file is left behind.
    Result<bool> put(std::string_view expectedSha256, std::uint64_t size, const ByteSource& source);
    /// Stores everything read from fd (from its current offset to end of file), which must hash
    /// to expectedSha256. Returns true when newly stored. Errors as put().
    Result<bool> putFd(int fd, std::string_view expectedSha256);
    /// Stores the bytes of data, which must hash to expectedSha256. Returns true when newly stored.
    Result<bool> putBuffer(std::string_view data, std::string_view expectedSha256);
    /// Local ingest: stores the regular file at path, which must hash to expectedSha256 (as
    /// computed by a scan). When the blob is already present the file is not read at all (the
    /// blob is retained).
    /// Returns true when newly stored. Errors as put(); a file changed since it was scanned gives
    /// InvalidArgument "file <path> changed ...".
    Result<bool> putFile(const std::string& path, std::string_view expectedSha256);

private:
    explicit BlobStore(std::string root, bool useTmpfile)
        : root_(std::move(root)), useTmpfile_(useTmpfile) {}

    Result<bool> putStream(std::string_view expected, std::uint64_t size, bool sizeKnown,
                           const ByteSource& source);
    Result<bool> verifyOnly(std::string_view expected, std::uint64_t size, bool sizeKnown,
                            const ByteSource& source);
    Result<bool> publish(int fd, const std::string& tmpName, std::string_view hash) const;

    std::string root_;
    bool useTmpfile_ = true;  // O_TMPFILE + linkat via /proc/self/fd; else mkstemp + link
    std::int64_t refreshAfterMs_ = 0;
};

}  // namespace fetchml
