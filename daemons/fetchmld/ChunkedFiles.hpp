#pragma once
// ChunkedFiles: large files sent as content-defined chunks (common/store/FastCdc.hpp,
// decisions.md "Chunked files"). A client asks which chunks the server cannot produce
// (MissingChunks), sends those as ordinary blobs (PutBlobs), then asks fetchmld to assemble the
// file from its chunk list (PutChunkedFile). The file is then an ordinary blob; the table
// file_chunks remembers where in it each chunk lies, so the next version of the file needs only
// its new chunks. A file may also come as a delta: parts that are byte ranges of a base (its
// previous version, a stored blob) and blobs for the rest. Uploaded chunk blobs are not removed
// here: no tree names them, so blob garbage collection (BlobCollector) removes them after its grace
// period, and with a removed file its file_chunks rows.

#include <cstdint>
#include <string>
#include <vector>

#include "Database.hpp"
#include "core/Result.hpp"
#include "store/BlobStore.hpp"
#include "store/ChunkList.hpp"

namespace fetchml {

/// What assembling a file did. Sizes in bytes.
struct AssembleReport {
    bool stored = false;              ///< the file was newly stored (false: it was already there)
    std::uint64_t fromBlobs = 0;      ///< bytes copied from chunk blobs (sent for this file)
    std::uint64_t fromFiles = 0;      ///< bytes copied from earlier stored files (reused), base too
    std::uint64_t chunksIndexed = 0;  ///< file_chunks rows written
};

/// Chunk lookups and file assembly over one database and store. Not thread-safe (fetchmld's
/// event loop owns it).
class ChunkedFiles {
public:
    /// Most chunks in one chunk list: 1 GiB / 16 KiB * 4 (a 4 GiB file of minimum chunks).
    static constexpr std::size_t kMaxChunks = 1u << 18;

    ChunkedFiles(Database& db, BlobStore& store) : db_(db), store_(store) {}

    /// Of chunks (hex SHA-256), those fetchmld can produce neither from a stored blob nor from
    /// a recorded range of a stored file, in the given order, each once. The blobs and files
    /// that can produce the others are retained (BlobStore::retain) for garbage collection.
    /// Errors: InvalidArgument "hashes: '<x>' is not a SHA-256 hex digest"; Internal (SQLite).
    Result<std::vector<std::string>> missing(const std::vector<std::string>& chunks);

    /// Of bases (hex SHA-256 of files' previous versions, for PutChunkedFile deltas), those
    /// not stored as blobs, in the given order, each once. The stored ones are retained
    /// (BlobStore::retain) so that garbage collection keeps them until the PutChunkedFile.
    /// Errors: InvalidArgument "bases: '<x>' is not a SHA-256 hex digest".
    Result<std::vector<std::string>> missingBases(const std::vector<std::string>& bases);

    /// Stores the file fileSha256 of size bytes as the concatenation of parts: a blob part is
    /// read from a stored blob of that hash or from a recorded range of a stored file (as a
    /// chunk), a base range from the blob base at its baseOffset. The result is verified
    /// against fileSha256 and written atomically (BlobStore::put), then, in one transaction,
    /// every blob part's range in the new file is recorded, and for each base range the base's
    /// recorded ranges that lie wholly inside it, shifted to where they are in the new file.
    /// When the file is already stored it is not rewritten and base is not consulted: its blob
    /// parts are read back, checked and recorded; base ranges are neither read nor recorded.
    /// Part N is line N of the text form (common/store/ChunkList.hpp).
    /// Errors: InvalidArgument "hash: ...", "base: '<x>' is not a SHA-256 hex digest",
    /// "chunks: sizes add up to N bytes, not the file's M", "chunks: more than kMaxChunks
    /// parts", "chunks: line N: a base range needs \"base\"", "chunks: line N: bytes A..B are
    /// outside the base's S bytes", "chunk N (<sha>) is ... bytes, the list says ...", or
    /// BlobStore::put's mismatch ("blob <sha>: content hashes to <other>"); NotFound "base:
    /// blob <sha> is not stored" (the client sends a full chunk list instead), "chunk N (<sha>)
    /// is neither stored nor part of a stored file (send it with PutBlobs first)"; Internal
    /// for I/O and SQLite failures. On error nothing is stored or recorded.
    Result<AssembleReport> assemble(const std::string& fileSha256, std::uint64_t size,
                                    const std::vector<FilePart>& parts,
                                    const std::string& base = "");

private:
    struct Source;
    Result<Source> locate(const FilePart& part, std::size_t index);
    Result<void> checkStoredRanges(const std::string& fileSha256,
                                   const std::vector<FilePart>& parts);
    Result<std::uint64_t> record(const std::string& fileSha256, const std::vector<FilePart>& parts,
                                 const std::string& base);

    Database& db_;
    BlobStore& store_;
};

}  // namespace fetchml
