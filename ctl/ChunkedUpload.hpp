#pragma once
// Sending a large file as chunks (decisions.md "Chunked files"): a file over
// FastCdc::kChunkedFileBytes that the server lacks is cut with FastCDC and goes as the blobs the
// server cannot produce (MissingChunks), then PutChunkedFile assembles it from its part list.
// Two forms:
//   - full: the part list is every chunk (FastCdc::kFileLimits), in order;
//   - delta: when the client still knows the version it sent last (ChunkCache.hpp) the file is
//     compared with it in fine chunks (FastCdc::kDeltaLimits): what is unchanged goes as byte
//     ranges of that version (the server's "base"), each run of new bytes as one "piece" blob
//     of at most kMaxListedChunkBytes.
// Used by syncTree (TreeSync.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "ChunkCache.hpp"
#include "TreeSync.hpp"
#include "core/Result.hpp"
#include "store/ChunkList.hpp"
#include "store/FastCdc.hpp"
#include "store/Manifest.hpp"

namespace fetchml::ctl {

/// A missing large file, ready to send.
struct ChunkedUpload {
    std::string path;             ///< in the tree
    std::string sha256;           ///< of the whole file
    std::uint64_t size = 0;       ///< bytes
    std::string base;             ///< the version a delta is against; "" for a full list
    std::vector<FilePart> parts;  ///< what PutChunkedFile gets, in order
    std::vector<PackBlob> blobs;  ///< the blob parts, each hash once, with where they lie
    FineChunks fine;              ///< this version in fine chunks, for the chunk cache
};

/// One stretch of a delta: new bytes of the file (a piece to send) or bytes of the base.
struct DeltaSpan {
    bool fromBase = false;
    std::uint64_t offset = 0;      ///< where the stretch starts in the new file, bytes
    std::uint64_t size = 0;        ///< bytes
    std::uint64_t baseOffset = 0;  ///< where it starts in the base (fromBase only)
};

/// The delta of a file cut into fine chunks against base (the same file's earlier version in
/// fine chunks): a chunk whose hash and size base has is a range of base (adjacent ones merge
/// when they are adjacent in base too); the others merge into new stretches of at most
/// maxPiece bytes. The spans cover the file in order.
std::vector<DeltaSpan> planDelta(const std::vector<Chunk>& fine, const FineChunks& base,
                                 std::uint64_t maxPiece = kMaxListedChunkBytes);

/// Cuts dir/entry.path in one read that also hashes it, as a delta against previous when given
/// (previous->sha256 must differ from entry.sha256), else as a full chunk list; the new
/// stretches of a delta are read again to hash them as pieces.
/// Errors: NotFound/Internal naming the file; InvalidArgument "file <path> changed since it was
/// scanned: ..." when its size or hash is no longer the manifest's.
Result<ChunkedUpload> prepareChunkedUpload(const std::string& dir, const ManifestEntry& entry,
                                           const FineChunks* previous);

/// The blobs of uploads whose hashes are in missing, as pack blobs, in upload and file order;
/// a hash shared by several parts is sent once.
std::vector<PackBlob> missingChunkBlobs(const std::vector<ChunkedUpload>& uploads,
                                        const std::vector<std::string>& missing);

}  // namespace fetchml::ctl
