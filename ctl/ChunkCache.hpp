#pragma once
// ChunkCache: what a client remembers of the last version of each large file it sent, so that
// the next version goes as a delta against it (decisions.md "Chunked files", delta). For each
// file path of a tree: the SHA-256 and size of the version the server assembled, and that
// version cut with FastCdc::kDeltaLimits (8 KiB chunks, which only this client ever sees).
//
// One file per tree path, named by the SHA-256 of "<tree's real path>\0<path in the tree>"
// ("<hex>.fine"), in the directory chunkCacheDir gives. Text:
//   fetchml-fine-chunks 1\n
//   file <sha256> <size>\n
//   <sha256> <size>\n       one line per chunk, in order (as store/ChunkList.hpp)
//   end <number of chunks>\n
// The cache is a hint, never trusted for correctness: the server verifies the file it builds
// from a delta against the file's hash and refuses a wrong one, and the client then sends the
// full chunk list. A missing, damaged or foreign entry is simply not used; deleting the
// directory is always safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"
#include "store/ChunkList.hpp"

namespace fetchml::ctl {

/// One version of a file cut into fine chunks: its SHA-256 (hex), size in bytes, and chunks
/// in order (sizes add up to size).
struct FineChunks {
    std::string sha256;
    std::uint64_t size = 0;
    std::vector<ChunkRef> chunks;
};

/// The directory name of fetchmlctl's caches: xdgCacheHome + "/fetchml/" + name when
/// xdgCacheHome is an absolute path (the XDG Base Directory rule), else home +
/// "/.cache/fetchml/" + name; "" when neither is usable (nullptr = unset).
std::string userCacheDir(const char* xdgCacheHome, const char* home, const std::string& name);

/// The directory of chunk caches: xdgCacheHome + "/fetchml/chunks" when xdgCacheHome is an
/// absolute path (the XDG Base Directory rule), else home + "/.cache/fetchml/chunks"; "" when
/// neither is usable. Arguments are the values of XDG_CACHE_HOME and HOME (nullptr = unset).
std::string chunkCacheDir(const char* xdgCacheHome, const char* home);

/// The text form of an entry (see above).
std::string formatFineChunks(const FineChunks& entry);
/// Parses the text form. Errors: InvalidArgument "line N: <what>" or "<what>" (a wrong
/// header, a malformed line, sizes that do not add up to the file's, a missing end line).
Result<FineChunks> parseFineChunks(std::string_view text);

/// The entries of one tree. dir "" disables the cache (load finds nothing, save does nothing).
class ChunkCache {
public:
    /// root: the tree's real path (realpath(3)).
    ChunkCache(std::string dir, std::string root) : dir_(std::move(dir)), root_(std::move(root)) {}

    /// The entry of the file at rel (a manifest path), nullopt when there is none or it cannot
    /// be read or parsed.
    std::optional<FineChunks> load(const std::string& rel) const;
    /// Replaces the entry of rel atomically (writeFileAtomic, BackupFiles.hpp: mode 0600; the
    /// directory is made 0700 if missing). Errors: Internal naming the file or directory.
    Result<void> save(const std::string& rel, const FineChunks& entry) const;

    /// Keeps the cache from growing without bound (one entry, about 1% of its file's size, for
    /// every large file ever sent): marks the entries of `rels` (the large files of the tree
    /// just synced) as used now (their modification time, when older than a day), then, at
    /// most once a day (the time of <dir>/.pruned), removes every entry, of any tree, not used
    /// for maxAgeS seconds. nowS: seconds since the epoch. Failures are ignored: the cache is
    /// a hint, and an entry removed only costs its file one full chunk list.
    void keep(const std::vector<std::string>& rels, std::int64_t nowS,
              std::int64_t maxAgeS = kMaxAgeS) const;
    /// How long an entry nobody uses is kept: 90 days.
    static constexpr std::int64_t kMaxAgeS = 90 * 86400;

    /// The entry file of rel (for tests and error messages); "" when disabled.
    std::string pathOf(const std::string& rel) const;

private:
    std::string dir_;
    std::string root_;
};

}  // namespace fetchml::ctl
