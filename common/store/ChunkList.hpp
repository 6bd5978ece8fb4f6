#pragma once
// The chunk list of a chunked file: which chunks (common/store/FastCdc.hpp), in order, make up
// a file. Text form, one line per chunk (docs/architecture/decisions.md "Chunked files"):
//   <sha256, 64 lowercase hex digits> <size, decimal bytes>\n
// It is what a client sends with PutChunkedFile and what fetchmld checks before it assembles
// the file. A file sent as a delta against its previous version (decisions.md "Chunked files",
// "Delta against the previous version") is a part list instead: chunk-list lines mixed with
//   = <offset in the base, decimal bytes> <length, decimal bytes>\n
// for a byte range of the base file.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"
#include "store/FastCdc.hpp"

namespace fetchml {

/// Largest accepted chunk in a chunk list, bytes (1 MiB): above FastCdc::kFileLimits.max, so
/// other chunkers' limits fit, while bounding what one chunk can make the server buffer.
inline constexpr std::uint32_t kMaxListedChunkBytes = 1u << 20;

/// One entry of a chunk list.
struct ChunkRef {
    std::string sha256;      ///< 64 lowercase hex digits
    std::uint32_t size = 0;  ///< bytes, 1..kMaxListedChunkBytes

    bool operator==(const ChunkRef&) const = default;
};

/// The text form of chunks (see above). Chunk offsets are implied by the order.
std::string formatChunkList(const std::vector<Chunk>& chunks);

/// Parses the text form. Errors: InvalidArgument "line N: <what>" for a malformed line (bad
/// hash, size 0, larger than kMaxListedChunkBytes, not decimal, missing final newline), or
/// "no chunks" for an empty list.
Result<std::vector<ChunkRef>> parseChunkList(std::string_view text);

/// One part of a file sent as chunks (PutChunkedFile): a blob the client sent or the server
/// has (a chunk, or a "piece": any run of bytes, at most kMaxListedChunkBytes), or a byte range
/// of the base file (the file's previous version, a stored blob).
struct FilePart {
    std::string sha256;            ///< 64 lowercase hex digits; "" for a range of the base
    std::uint64_t size = 0;        ///< bytes, > 0; a blob at most kMaxListedChunkBytes
    std::uint64_t baseOffset = 0;  ///< for a base range: where it starts in the base, bytes
    bool fromBase() const { return sha256.empty(); }
    bool operator==(const FilePart&) const = default;
};

/// Text form: one line per part, "<sha256> <size>\n" for a blob, "= <offset> <length>\n" for a
/// base range (decimal bytes).
std::string formatFileParts(const std::vector<FilePart>& parts);

/// Parses the text form; the chunk-list lines of parseChunkList are valid part lines.
/// Errors: InvalidArgument "line N: <what>" (as parseChunkList, plus a range with length 0 or
/// offset+length overflowing 64 bits), "no chunks" for an empty text.
Result<std::vector<FilePart>> parseFileParts(std::string_view text);

}  // namespace fetchml
