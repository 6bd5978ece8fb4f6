#pragma once
// The chunk list of a chunked file: which chunks (common/store/FastCdc.hpp), in order, make up
// a file. Text form, one line per chunk (docs/architecture/decisions.md "Chunked files"):
//   <sha256, 64 lowercase hex digits> <size, decimal bytes>\n
// It is what a client sends with PutChunkedFile and what fetchmld checks before it assembles
// the file.

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

}  // namespace fetchml
