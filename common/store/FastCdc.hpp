#pragma once
// Content-defined chunking with FastCDC (Wen Xia et al., "FastCDC: a Fast and Efficient
// Content-Defined Chunking Approach for Data Deduplication", USENIX ATC 2016): a gear rolling
// hash, no cut point before the minimum size (cut-point skipping), and normalized chunking at
// level 2 (a stricter mask before the normal size, a looser one after it). An insertion or
// change moves only the chunk boundaries near it, so a large file changed in one place shares
// all other chunks with its earlier version (docs/architecture/decisions.md, "Chunked files").
//
// The boundaries are a pure function of the bytes and the limits: every client cuts the same
// file the same way, which is what makes chunks deduplicate across machines. The gear table and
// masks are therefore fixed and documented here (docs/manifest.md repeats them).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// Chunk size limits in bytes: no chunk is shorter than min (except the last one of a file),
/// chunks average about normal, none is longer than max.
struct ChunkLimits {
    std::uint32_t min = 0;
    std::uint32_t normal = 0;
    std::uint32_t max = 0;
};

/// One chunk of a file: where it starts (bytes from the start of the file), its length in
/// bytes, and the SHA-256 of its bytes (64 lowercase hex digits).
struct Chunk {
    std::uint64_t offset = 0;
    std::uint32_t size = 0;
    std::string sha256;
};

/// A file cut into chunks: the SHA-256 of the whole file, its size in bytes, and its chunks in
/// order (their sizes add up to size; an empty file has no chunks).
struct ChunkedFile {
    std::string sha256;
    std::uint64_t size = 0;
    std::vector<Chunk> chunks;
};

/// The FastCDC cut-point function for one set of limits. Copyable; holds no state between
/// calls.
class FastCdc {
public:
    /// The limits used for files in a tree: 16 KiB, 64 KiB, 256 KiB. Small enough that a
    /// change of 1 MiB resends about 1 MiB plus one or two chunks (issue 6's 10% target), large
    /// enough that a 1 GiB file is about 16,000 chunks.
    static constexpr ChunkLimits kFileLimits{16u << 10, 64u << 10, 256u << 10};
    /// The finer limits a client cuts the same files with to find what changed since the
    /// version it sent last (2 KiB, 8 KiB, 32 KiB; decisions.md "Chunked files", delta): a
    /// change costs itself plus about one 8 KiB chunk at each end. These chunks stay on the
    /// client (ctl/ChunkCache.hpp); the server never sees them.
    static constexpr ChunkLimits kDeltaLimits{2u << 10, 8u << 10, 32u << 10};
    /// Files larger than this (8 MiB) are chunked; smaller ones are one blob.
    static constexpr std::uint64_t kChunkedFileBytes = 8u << 20;

    /// Checks the limits: 64 <= min < normal < max <= 1 GiB, and normal a power of two
    /// between 2^8 and 2^30 (its bit count sets the masks).
    /// Errors: InvalidArgument naming the limit that is wrong.
    static Result<FastCdc> create(ChunkLimits limits);

    /// Length in bytes of the chunk that starts at data[0]. data holds the next size bytes of
    /// the stream; the caller passes at least limits().max bytes unless the stream ends within
    /// them (then size is all that is left). Returns size when size <= min, otherwise a length
    /// in [min + 1, min(size, max)].
    std::size_t cut(const unsigned char* data, std::size_t size) const;

    /// The limits this instance cuts with.
    const ChunkLimits& limits() const { return limits_; }
    /// The mask tested before the normal size (b + 2 one-bits for normal = 2^b).
    std::uint64_t maskSmall() const { return maskSmall_; }
    /// The mask tested from the normal size on (b - 2 one-bits).
    std::uint64_t maskLarge() const { return maskLarge_; }

    /// The gear table: entry i is the first 8 bytes, read big-endian, of the SHA-256 of the
    /// single byte i. Computed once, on first use.
    static const std::array<std::uint64_t, 256>& gear();
    /// A mask of k one-bits (1 <= k <= 48) at bit positions 63 - j * floor(48 / k) for
    /// j = 0..k-1: spread over the high bits, which depend on the most recent 64 bytes (the
    /// paper's "zero padding", a larger effective window).
    static std::uint64_t spreadMask(unsigned k);

private:
    FastCdc(ChunkLimits limits, std::uint64_t small, std::uint64_t large)
        : limits_(limits), maskSmall_(small), maskLarge_(large) {}

    ChunkLimits limits_;
    std::uint64_t maskSmall_;
    std::uint64_t maskLarge_;
};

/// Reads fd from its current offset to end of file and cuts it into chunks with cdc, hashing
/// each chunk and the whole file in the same pass (reads of 4 MiB or 2 * max, whichever is
/// larger). Errors: Internal "reading fd N: <strerror>".
Result<ChunkedFile> chunkFd(int fd, const FastCdc& cdc);

/// chunkFd with several chunkers over one read of fd: result k holds the chunks cdcs[k] cuts
/// (every result has the same size and whole-file sha256). cdcs must not be empty.
/// Errors: Internal "reading fd N: <strerror>".
Result<std::vector<ChunkedFile>> chunkFdLevels(int fd, const std::vector<const FastCdc*>& cdcs);

}  // namespace fetchml
