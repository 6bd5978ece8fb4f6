#pragma once
// Tree sync: bring a local tree to the server so that its commit id names it there. Ask which
// blobs the server lacks (MissingBlobs), send those in packs of at most kMaxPackBytes of file
// data each (one PutBlobs call per pack), then record the manifest (PutManifest). Used by
// `fetchmlctl sync` and `fetchmlctl queue`.
//
// Resuming: fetchmld stores every blob of a pack durably before PutBlobs returns, so a sync
// that fails after some packs has stored those packs' blobs, and the next sync's MissingBlobs
// no longer lists them; only the rest is sent again.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ExitCode.hpp"
#include "Transport.hpp"
#include "core/Result.hpp"
#include "store/Manifest.hpp"

namespace fetchml::ctl {

/// Most file data in one pack, bytes (64 MiB). A single file larger than that is its own pack.
/// Keeps every request far below fetchml-httpsd's https.max_body_bytes (1 GiB by default).
inline constexpr std::uint64_t kMaxPackBytes = 64ull << 20;

/// One blob to send: a whole file, or a chunk of a chunked file (size bytes at offset).
struct PackBlob {
    std::string sha256;        ///< 64 lowercase hex digits
    std::string path;          ///< the file's path in the tree
    std::uint64_t size = 0;    ///< bytes
    std::uint64_t offset = 0;  ///< where a chunk starts in its file, bytes
    bool chunk = false;        ///< a chunk (else the whole file)
};

/// One pack to send: its blobs and the sum of their sizes in bytes.
struct PackPlan {
    std::vector<PackBlob> blobs;
    std::uint64_t bytes = 0;
};

/// Splits blobs into packs, in order: a blob joins the current pack while the pack's file data
/// stays within maxPackBytes, else it starts the next one (so a blob larger than maxPackBytes
/// is alone in its pack).
std::vector<PackPlan> planPacks(std::vector<PackBlob> blobs,
                                std::uint64_t maxPackBytes = kMaxPackBytes);

/// planPacks of the whole files of manifest whose hashes are in missing, in manifest order. A
/// hash that several files share is sent once; hashes not in the manifest are ignored.
std::vector<PackPlan> planPacks(const Manifest& manifest, const std::vector<std::string>& missing,
                                std::uint64_t maxPackBytes = kMaxPackBytes);

/// What a sync did. Sizes in bytes, time in seconds.
struct SyncSummary {
    std::string commit;                ///< commit id of the tree
    std::uint64_t files = 0;           ///< files in the tree
    std::uint64_t bytes = 0;           ///< total size of the tree's files
    std::uint64_t blobsMissing = 0;    ///< distinct blobs the server lacked when asked
    std::uint64_t blobsSent = 0;       ///< blobs in packs the server accepted
    std::uint64_t bytesSent = 0;       ///< file data in those packs (pack headers excluded)
    std::uint64_t packs = 0;           ///< packs the server accepted (PutBlobs calls)
    std::uint64_t chunkedFiles = 0;    ///< missing files sent as chunks (over 8 MiB)
    std::uint64_t deltaFiles = 0;      ///< of those, sent as a delta against their last version
    std::uint64_t chunkListBytes = 0;  ///< chunk hashes asked about and part lists sent
    std::uint64_t bytesReused = 0;     ///< bytes of those the server had in other files
    std::uint64_t filesHashed = 0;     ///< files the scan read (the others came from the cache)
    std::uint64_t bytesHashed = 0;     ///< their bytes
    double seconds = 0;                ///< wall time
    /// {"commit","files","bytes","blobs_missing","blobs_sent","bytes_sent","packs",
    /// "chunked_files","delta_files","chunk_list_bytes","bytes_reused","files_hashed",
    /// "bytes_hashed","seconds"}.
    nlohmann::json toJson() const;
};

/// How to sync.
struct SyncOptions {
    bool progress = false;                       ///< show progress on stderr ('\r'-rewritten line)
    std::uint64_t maxPackBytes = kMaxPackBytes;  ///< see planPacks
    /// Send a changed large file as a delta against the version sent last, remembered in the
    /// chunk cache (ChunkCache.hpp, chunkCacheDir from the environment); false: full chunk
    /// lists, and the cache is neither read nor written.
    bool useChunkCache = true;
};

/// How to scan a tree.
struct ScanOptions {
    /// Trust the stat cache (StatCache.hpp): files whose stat data did not change are not read.
    /// false (--no-cache): hash every file; the cache is rebuilt from this scan.
    bool useCache = true;
};

/// What a scan read.
struct ScanReport {
    std::uint64_t filesHashed = 0;  ///< files read and hashed
    std::uint64_t bytesHashed = 0;  ///< their bytes
};

/// The directory of the stat caches: xdgCacheHome + "/fetchml/trees" when xdgCacheHome is an
/// absolute path (the XDG Base Directory rule), else home + "/.cache/fetchml/trees"; "" when
/// neither is usable. Arguments are the values of XDG_CACHE_HOME and HOME (nullptr = unset).
std::string statCacheDir(const char* xdgCacheHome, const char* home);

/// The stat cache file of the tree at absolute path root in cacheDir: one file per tree,
/// named by the SHA-256 of the path ("<hex>.cache").
std::string statCacheFile(const std::string& cacheDir, const std::string& root);

/// Scans dir into a manifest (Manifest::scan) and reports each skipped path on stderr as
/// "fetchmlctl: skipped <path> (<reason>)". With options.useCache it loads the stat cache of
/// dir's real path (statCacheDir from the environment) and saves it again afterwards; a
/// cache that cannot be read is rebuilt, one that cannot be written costs only time and is
/// reported once on stderr ("fetchmlctl: stat cache not written: ..."). report (out,
/// optional) receives what was read. Errors: Manifest::scan's, which name the path.
Result<Manifest> scanTree(const std::string& dir, const ScanOptions& options = {},
                          ScanReport* report = nullptr);

/// Sends what the server lacks of manifest (files read from dir) and records the manifest.
/// A missing file over FastCdc::kChunkedFileBytes is cut into chunks (ChunkedUpload.hpp): only
/// the chunks the server cannot produce go in packs, then PutChunkedFile assembles it.
/// summary (out) is filled as far as the sync got, also on error, with seconds measured from
/// the call. Errors keep the server's or the transport's kind; the message says which step
/// failed: "asking the server which blobs it lacks: ...", "sending pack N of M (K files, X
/// bytes, first <path>): ..." (a file that changed since the scan is named by the pack
/// writer), "recording the manifest of <dir>: ...", or Internal when the server records
/// another commit id than the tree's.
Result<void> syncTree(Transport& transport, const Manifest& manifest, const std::string& dir,
                      const SyncOptions& options, SyncSummary& summary);

/// scanTree then syncTree: one `fetchmlctl sync`, and each sync of `fetchmlctl watch`. summary
/// (out) covers both, seconds from the call. Returns the command's failure: a scan error is a
/// usage failure (exit 1: the directory), a sync error keeps its kind (exitCodeFor).
std::optional<CtlFailure> syncDirectory(Transport& transport, const std::string& dir,
                                        const ScanOptions& scan, const SyncOptions& sync,
                                        SyncSummary& summary);

/// True when progress should be shown: stderr is a terminal (isatty(2)).
bool progressWanted();

}  // namespace fetchml::ctl
