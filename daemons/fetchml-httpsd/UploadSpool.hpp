#pragma once
// UploadSpool: where a streamed upload body (POST /v1/blobs) goes while it arrives: an unlinked
// temporary file (open(2) O_TMPFILE) in the spool directory, written chunk by chunk, so memory
// stays small whatever the size. When the body is complete, the descriptor (rewound to offset
// 0) is handed to fetchmld's PutBlobs; the file vanishes when the last descriptor closes.

#include <cstdint>
#include <string>

#include "core/Result.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::edge {

/// One spooled upload.
class UploadSpool {
public:
    UploadSpool() = default;

    /// The spool directory to use: `configured` if not empty, else $TMPDIR, else /var/tmp.
    static std::string directory(const std::string& configured);

    /// Opens a new anonymous file in `dir` (O_TMPFILE; where the file system lacks it, a
    /// mkstemp(3) file unlinked at once). At most maxBytes may be written. Errors: Internal.
    static Result<UploadSpool> open(const std::string& dir, std::uint64_t maxBytes);

    /// Appends `size` bytes. Errors: InvalidArgument when the cap would be exceeded,
    /// Internal on a write error (e.g. ENOSPC).
    Result<void> write(const void* data, std::size_t size);

    /// Bytes written so far.
    std::uint64_t size() const { return size_; }
    /// Whether a file is open.
    bool valid() const { return fd_.valid(); }

    /// Rewinds the file to offset 0 and gives up its descriptor. Errors: Internal.
    Result<UniqueFd> finish();

private:
    UniqueFd fd_;
    std::uint64_t size_ = 0;
    std::uint64_t maxBytes_ = 0;
};

}  // namespace fetchml::edge
