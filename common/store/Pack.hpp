#pragma once
// Blob packs: many blobs in one stream (docs/architecture/decisions.md "Blob pack"):
//   repeated: <sha256 hex, 64 bytes> <space> <size decimal> \n <size bytes of content>
// until end of file. PackWriter produces one from local files (fetchmlctl streams it as an
// HTTPS request body); PackReader consumes one into a BlobStore (fetchmld, from the spooled
// upload's descriptor), verifying every blob as it is read.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"
#include "store/BlobStore.hpp"

namespace fetchml {

/// One blob to send: its hash and the local file that holds its bytes, either the whole file
/// or (for a chunk of a chunked file, FastCdc.hpp) length bytes from offset.
struct PackItem {
    std::string sha256;        ///< 64 lowercase hex digits
    std::string path;          ///< file to read
    std::uint64_t offset = 0;  ///< where the blob starts in the file, bytes
    std::optional<std::uint64_t> length =
        std::nullopt;  ///< the blob's length in bytes; none = to end of file
};

/// Writes a pack of local files.
class PackWriter {
public:
    /// Receives the pack's bytes in order; an error stops the writer and is returned by write.
    using Sink = std::function<Result<void>(std::string_view bytes)>;
    /// Told, after each piece of file content is handed on, how many content bytes (headers
    /// excluded) of the pack have been handed on so far.
    using Progress = std::function<void(std::uint64_t contentBytes)>;

    explicit PackWriter(std::vector<PackItem> items) : items_(std::move(items)) {}

    /// Total size of the pack in bytes (headers plus contents), e.g. for Content-Length.
    /// Stats every file once and remembers the sizes; write() then checks that each file still
    /// has that size. Errors: NotFound/Internal naming the file; InvalidArgument "file <path>
    /// changed ..." when a range ends beyond the end of its file.
    Result<std::uint64_t> packSize();
    /// Writes the pack to fd (write(2), retried on EINTR and short writes).
    Result<void> writeTo(int fd);
    /// Hands the pack to sink in chunks of at most 1 MiB.
    /// Errors: the sink's error; NotFound/Internal for a file that cannot be read;
    /// InvalidArgument "file <path> changed ..." when a file's size or hash no longer matches.
    Result<void> writeTo(const Sink& sink);
    /// Calls progress while writeTo() runs (e.g. for a progress bar); none by default.
    void onProgress(Progress progress) { progress_ = std::move(progress); }

private:
    std::vector<PackItem> items_;
    Progress progress_;
    std::optional<std::vector<std::uint64_t>> sizes_;
};

/// What reading a pack did.
struct PackStats {
    std::uint64_t stored = 0;   ///< blobs newly stored
    std::uint64_t present = 0;  ///< blobs that were already in the store (verified, not written)
    std::uint64_t bytes = 0;    ///< content bytes read, headers excluded

    bool operator==(const PackStats&) const = default;
};

/// Reads a pack into a BlobStore.
class PackReader {
public:
    /// Longest accepted header line in bytes, '\n' included (a valid one is at most 86).
    static constexpr std::size_t kMaxHeaderLine = 128;

    explicit PackReader(BlobStore& store) : store_(store) {}

    /// Reads the whole pack from fd, starting at offset 0 (pread(2); a pipe or socket is read
    /// with read(2) from where it is). Every blob is hashed while it is read and stored only
    /// when it matches; blobs verified before an error stay stored.
    /// Errors: InvalidArgument "pack blob N at offset O: <what>" for a malformed or too long
    /// header, a truncated blob or a hash mismatch (the message also says how many blobs were
    /// stored before); Internal for I/O failures.
    Result<PackStats> read(int fd);

private:
    BlobStore& store_;
};

}  // namespace fetchml
