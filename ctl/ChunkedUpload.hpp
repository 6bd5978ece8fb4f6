#pragma once
// Sending a large file as content-defined chunks (decisions.md "Chunked files"): a file over
// FastCdc::kChunkedFileBytes that the server lacks is cut with FastCDC; only the chunks the
// server cannot produce (MissingChunks) are sent, then PutChunkedFile assembles the file. Used
// by syncTree (TreeSync.hpp).

#include <string>
#include <vector>

#include "TreeSync.hpp"
#include "core/Result.hpp"
#include "store/FastCdc.hpp"
#include "store/Manifest.hpp"

namespace fetchml::ctl {

/// A missing file cut into chunks: its path in the tree and its chunks.
struct ChunkedUpload {
    std::string path;
    ChunkedFile file;
};

/// Cuts dir/entry.path into chunks (FastCdc::kFileLimits) in one read that also hashes it.
/// Errors: NotFound/Internal naming the file; InvalidArgument "file <path> changed since it was
/// scanned: ..." when its size or hash is no longer the manifest's.
Result<ChunkedUpload> chunkForUpload(const std::string& dir, const ManifestEntry& entry);

/// The chunks of uploads whose hashes are in missing, as pack blobs, in upload and file order;
/// a hash shared by several chunks is sent once.
std::vector<PackBlob> missingChunkBlobs(const std::vector<ChunkedUpload>& uploads,
                                        const std::vector<std::string>& missing);

}  // namespace fetchml::ctl
