#pragma once
// StatCache: what a client remembers of the files it hashed, so that the next scan of the same
// tree reads only files that changed (the idea of git's index, Documentation/technical/
// racy-git.txt). For each file: (size, mtime ns, ctime ns, inode, device, mode) -> SHA-256. A
// file whose lstat(2) still shows the same six values is taken to hold the same bytes and is
// not read.
//
// Racily clean files. A file changed twice within one tick of the file system's clock (or
// within a timestamp granularity of 1 s) keeps its mtime; if the first version was hashed in
// between, the stat data match but the bytes do not. So an entry is trusted only when its
// mtime and its ctime are both older than the whole second in which the scan that hashed it
// began (scanStartNs, taken before the first file was looked at): any change made after that
// scan read the file gets a ctime of at least that second, which differs from the recorded
// one. Entries that are not older are not written at all, so such files are hashed again by
// the next scan (once: by then they are old enough). ctime cannot be set by a user, so a
// change whose mtime was put back (touch -d, cp -p, tar, rsync -a) is still seen. Not covered:
// file systems whose timestamps are coarser than 1 s (FAT), and a system clock set backwards.
//
// The file (one per tree; where it lives is the caller's choice), a text format:
//   fetchml-stat-cache 1\n
//   root <sha256 hex of the tree's absolute path>\n
//   scan-start <ns since the epoch>\n
//   <size> <mtime_ns> <ctime_ns> <inode> <device> <mode, octal> <sha256> <path>\n  (any number)
//   end <number of entries> <sha256 hex of every byte before this line>\n
// Anything else (another version, another root, a wrong count or checksum, a malformed line, a
// truncated file) makes load() return an empty cache: a damaged cache costs one full hashing,
// it is never trusted.

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/Result.hpp"

namespace fetchml {

/// The stat(2) fields a cache entry is checked against.
struct FileStat {
    std::uint64_t size = 0;
    std::int64_t mtimeNs = 0;  ///< st_mtim in ns since the epoch
    std::int64_t ctimeNs = 0;  ///< st_ctim in ns since the epoch
    std::uint64_t inode = 0;
    std::uint64_t device = 0;
    std::uint32_t mode = 0;  ///< st_mode, type bits included

    /// The fields of st.
    static FileStat of(const struct stat& st);
    bool operator==(const FileStat&) const = default;
};

/// The cache of one tree: entries loaded from the previous scan (looked up) and entries of the
/// current scan (saved). Not thread-safe.
class StatCache {
public:
    /// First line of the file, without its '\n'.
    static constexpr std::string_view kHeader = "fetchml-stat-cache 1";

    /// An empty cache for the tree whose absolute path is root: nothing is trusted.
    explicit StatCache(std::string root);

    /// Reads the cache file at path for the tree root. A missing, unreadable, damaged or
    /// foreign file (another format version, another root, not owned by the effective user)
    /// gives an empty cache; why (out, optional) then says what was wrong ("" when the file
    /// is simply absent).
    static StatCache load(const std::string& path, std::string root, std::string* why = nullptr);
    /// Parses a cache file's text for the tree root; errors (InvalidArgument) say what is
    /// wrong: "line N: <what>" or "<what>" for the file as a whole.
    static Result<StatCache> parse(std::string_view text, std::string root);

    /// The SHA-256 recorded for the file at rel (relative path as in a manifest) when the file's
    /// stat data now equal the recorded ones and the entry is not racily clean; the entry is
    /// then kept for save(). nullopt otherwise: hash the file and record() it.
    std::optional<std::string> lookup(const std::string& rel, const FileStat& st);
    /// Records the SHA-256 of the file at rel whose stat data, taken before it was read, are st.
    void record(const std::string& rel, const FileStat& st, std::string sha256);

    /// The text of the entries looked up or recorded since load (files no longer seen are
    /// dropped), for a scan that began at scanStartNs (ns since the epoch, the real-time clock
    /// read before the scan looked at any file); racily clean entries are left out.
    std::string serialize(std::int64_t scanStartNs) const;
    /// Writes serialize(scanStartNs) to path atomically: a 0600 temporary file in the same
    /// directory, renamed over path (no fsync: a file torn by a crash fails its checksum and
    /// costs a full hashing, nothing else). The directory must exist. Errors: Internal
    /// "cannot write <path>: <why>".
    Result<void> save(const std::string& path, std::int64_t scanStartNs) const;

    /// Files answered by lookup() since load (not read).
    std::uint64_t reusedFiles() const { return reused_; }
    /// Files recorded since load (read and hashed), and their bytes.
    std::uint64_t hashedFiles() const { return hashed_; }
    std::uint64_t hashedBytes() const { return hashedBytes_; }

    /// Number of entries loaded (the previous scan's, usable or not).
    std::size_t loadedEntries() const { return old_.size(); }

    /// The lowercase hex SHA-256 of an absolute path: the cache's "root" line, and a name
    /// for its file.
    static std::string rootKey(const std::string& root);

private:
    struct Entry {
        FileStat stat;
        std::string sha256;
    };

    std::string root_;
    std::int64_t trustBeforeNs_ = 0;  // entries loaded must be older than this (whole second)
    std::unordered_map<std::string, Entry> old_;
    std::unordered_map<std::string, Entry> current_;
    std::uint64_t reused_ = 0;
    std::uint64_t hashed_ = 0;
    std::uint64_t hashedBytes_ = 0;
};

}  // namespace fetchml
