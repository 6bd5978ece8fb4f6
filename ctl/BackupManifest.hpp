#pragma once
// BackupManifest: the table of contents of a backup directory (`fetchmlctl backup`), written
// last and atomically, so a directory without it (or whose database does not match it) is an
// unfinished backup. docs/architecture/decisions.md "Backups". Text form:
//   fetchml-backup 1\n
//   created <ms since the epoch>\n
//   database <sha256> <size>\n                        the file fetchml.db beside it
//   blob <sha256> <size>\n                            one per store blob, sorted by hash
//   log <sha256> <size> <mtime ns> <path>\n           one per job log, sorted by path; the
//                                                     bytes are the blob <sha256> of the
//                                                     backup's store, path is runs/...
//   end <sha256 of every byte before this line>\n
// Sizes in bytes; hashes 64 lowercase hex digits.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// A blob of the server's store, kept in the backup's store under the same hash.
struct BackupBlob {
    std::string sha256;
    std::uint64_t size = 0;

    bool operator==(const BackupBlob&) const = default;
};

/// A job's log file, kept as a blob of the backup's store (never restored into the server's
/// store) and restored to <state_dir>/<path>.
struct BackupLog {
    std::string path;  ///< runs/<run dir>/logs/output.log
    std::string sha256;
    std::uint64_t size = 0;
    std::int64_t mtimeNs = 0;  ///< the server file's mtime when it was read (quick check)

    bool operator==(const BackupLog&) const = default;
};

/// The parsed, validated manifest of one backup.
struct BackupManifest {
    /// First line, without '\n'.
    static constexpr std::string_view kHeader = "fetchml-backup 1";
    /// File names inside a backup directory.
    static constexpr const char* kFileName = "backup-manifest";
    static constexpr const char* kDatabaseName = "fetchml.db";

    std::int64_t createdMs = 0;      ///< when the backup started (ms since the epoch)
    std::string databaseSha256;      ///< of fetchml.db
    std::uint64_t databaseSize = 0;  ///< of fetchml.db, bytes
    std::vector<BackupBlob> blobs;   ///< sorted by hash, unique
    std::vector<BackupLog> logs;     ///< sorted by path, unique

    /// The canonical text (sorts blobs and logs first; the end line is computed).
    std::string text() const;
    /// Parses and validates a manifest text. Errors: InvalidArgument "backup-manifest line N:
    /// <what>" for a wrong header, an unknown or malformed line, hashes that are not 64
    /// lowercase hex digits, blobs or logs out of order or repeated, a log path that is not
    /// runs/<dir>/logs/output.log, a missing or wrong end line ("damaged") or bytes after it.
    static Result<BackupManifest> parse(std::string_view text);

    /// Sum of the blobs' sizes, bytes.
    std::uint64_t blobBytes() const;
    /// True when path is a valid log path: runs/<name>/logs/output.log, <name> one component
    /// of letters, digits, '.', '_' or '-' that is neither "." nor "..".
    static bool isValidLogPath(std::string_view path);
};

}  // namespace fetchml::ctl
