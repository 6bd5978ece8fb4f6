#pragma once
// Backup and restore of a FetchML server's state (`fetchmlctl backup`, `fetchmlctl restore`),
// run on the server's host by its administrator, reading and writing the state directory
// directly (docs/architecture/decisions.md "Backups"). A backup directory holds:
//   backup-manifest                     BackupManifest, written last and atomically
//   fetchml.db                          an online SQLite snapshot (sqlite3_backup_*)
//   store/objects/sha256/ab/cdef...     every blob of the server's store (same layout, 0444),
//                                       and the bytes of the job logs, by hash
// Backups into the same directory are incremental: a blob already there (of the right size)
// is not copied again, nor a log whose size and mtime are those the last backup recorded.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/Result.hpp"
#include "core/Settings.hpp"

namespace fetchml::ctl {

/// Where fetchmld keeps its state, from its configuration.
struct ServerPaths {
    std::string stateDir;  ///< paths.state_dir
    std::string database;  ///< scheduler.database
    std::string storeDir;  ///< paths.store_dir
    std::string runsDir;   ///< <state_dir>/runs

    /// From settings whose derived paths are filled in (resolvePaths).
    static ServerPaths fromSettings(const Settings& resolved);
};

/// How to back up.
struct BackupOptions {
    /// Re-hash the blobs already in the backup directory and copy again those that differ
    /// (else a blob of the right size is trusted).
    bool verify = false;
    /// After the backup, remove the blobs of the backup's store that it no longer lists (blobs
    /// the server's garbage collection has removed since an earlier backup).
    bool prune = false;
    /// ms since the epoch, for the manifest's `created`.
    std::function<std::int64_t()> clockMs;
    /// Told once, before waiting, when the store's garbage collection holds the store's lock
    /// (StoreLock): the backup waits for it to end. Unset: nothing is told.
    std::function<void(const std::string& message)> notice;
};

/// What a backup did. Sizes in bytes.
struct BackupSummary {
    std::string dir;
    std::uint64_t databaseBytes = 0;  ///< size of the snapshot
    std::int64_t jobs = 0;            ///< jobs in the snapshot
    std::uint64_t commits = 0;        ///< commits (code and results trees) in the snapshot
    std::uint64_t blobs = 0;          ///< blobs in the backup (the store's, at the time)
    std::uint64_t blobBytes = 0;      ///< their total size
    std::uint64_t blobsCopied = 0;    ///< blobs copied by this run
    std::uint64_t blobsSkipped = 0;   ///< blobs already in the backup directory
    std::uint64_t bytesCopied = 0;    ///< blob and log bytes copied by this run
    std::uint64_t blobsReplaced = 0;  ///< copies in the backup that were damaged, copied again
    std::uint64_t blobsVanished = 0;  ///< unreferenced blobs removed from the store meanwhile
    std::uint64_t logs = 0;           ///< job logs in the backup
    std::uint64_t logsCopied = 0;     ///< logs copied by this run
    std::uint64_t pruned = 0;         ///< files removed from the backup's store (--prune)
    double seconds = 0;

    /// {"dir","database_bytes","jobs","commits","blobs","blob_bytes","blobs_copied",
    /// "blobs_skipped","bytes_copied","blobs_replaced","blobs_vanished","logs","logs_copied",
    /// "pruned","seconds"}.
    nlohmann::json toJson() const;
    /// One line: "backup DIR: 12 jobs, database 96.0 KiB; 40 blobs (3 copied, 37 already
    /// there), 1.2 MiB copied; 12 logs (2 copied) in 0.4 s".
    std::string line() const;
};

/// Backs up the server whose state is at server into dir (created 0700 if missing) while
/// fetchmld may run: first an online snapshot of the database, then every blob of the store
/// (checking that each blob of each commit of the snapshot is there), then the logs of the
/// snapshot's jobs, then the manifest. Only one backup writes into a directory at a time (an
/// flock on it). Errors: NotFound when the database does not exist; Busy when another backup
/// holds dir or the database stayed locked; InvalidArgument when a blob a commit of the
/// snapshot names is not in the store, or a blob of the store is damaged (both name the
/// blob); Internal for I/O failures (naming the path). On error the backup directory keeps
/// its previous, complete backup (plus any blobs already copied).
Result<BackupSummary> backupServer(const ServerPaths& server, const std::string& dir,
                                   const BackupOptions& options);

/// How to restore.
struct RestoreOptions {
    /// Replace a database that already holds data.
    bool force = false;
};

/// What a restore did. Sizes in bytes.
struct RestoreSummary {
    std::string dir;
    std::uint64_t databaseBytes = 0;
    std::int64_t jobs = 0;           ///< jobs in the restored database
    std::uint64_t blobs = 0;         ///< blobs of the backup
    std::uint64_t blobBytes = 0;     ///< their total size
    std::uint64_t blobsStored = 0;   ///< blobs the server's store did not have
    std::uint64_t blobsPresent = 0;  ///< blobs it had already (verified all the same)
    std::uint64_t logs = 0;          ///< job logs written
    double seconds = 0;

    /// {"dir","database_bytes","jobs","blobs","blob_bytes","blobs_stored","blobs_present",
    /// "logs","seconds"}.
    nlohmann::json toJson() const;
    /// One line: "restored DIR: 12 jobs, database 96.0 KiB; 40 blobs (40 stored, 0 already
    /// there), 1.2 MiB; 12 logs in 0.3 s".
    std::string line() const;
};

/// Restores the backup in dir into the server at server, whose fetchmld must not run: checks
/// the manifest and the database snapshot against it, copies every blob into the store
/// verifying its SHA-256 on the way, then replaces the database atomically (temporary file,
/// fsync, rename; its old -wal and -shm are removed first) and writes the job logs. Run as
/// root, everything it writes is given the owner and group of the state directory. Errors:
/// NotFound when dir holds no backup-manifest (not a backup, or one that did not finish) or
/// the state directory does not exist; InvalidArgument when the backup is damaged (naming the
/// blob, log or file) or the database holds data and force is not set; Busy when another
/// process (fetchmld) has the database open; Internal for I/O failures. A refused or failed
/// restore leaves the database as it was (blobs already verified and stored stay: they are
/// content-addressed and harmless).
Result<RestoreSummary> restoreServer(const std::string& dir, const ServerPaths& server,
                                     const RestoreOptions& options);

}  // namespace fetchml::ctl
