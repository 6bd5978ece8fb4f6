#pragma once
// BackupDatabase: fetchmld's SQLite database as `fetchmlctl backup` and `restore` see it from
// outside the daemon: an online snapshot through the backup API
// (https://www.sqlite.org/backup.html), what a snapshot references (job ids, commit
// manifests), and the checks restore makes before it replaces a database. fetchmlctl depends
// on common/ only, so this is a small handle of its own rather than fetchmld's Database.

#include <sqlite3.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// One connection to an existing database file.
class BackupDatabase {
public:
    /// How to open.
    enum class Mode {
        ReadOnly,   ///< SQLITE_OPEN_READONLY (a snapshot file)
        ReadWrite,  ///< read-write, never created: a live WAL database needs its -shm
    };

    /// Opens an existing file (never creates one), with a busy timeout of busyMs.
    /// Errors: NotFound when the file does not exist; Internal with SQLite's message.
    static Result<BackupDatabase> open(const std::string& path, Mode mode, int busyMs = 10000);

    /// Copies the whole database into a new file dest (the caller removes any old one) with
    /// sqlite3_backup_step(-1): all pages in one read transaction, which in WAL mode sees one
    /// consistent state and does not block fetchmld's writers (they append to the WAL). The
    /// copy is switched to journal_mode=DELETE, so it is one self-contained file. On error
    /// dest is removed. Errors: Busy when the database stayed locked, Internal otherwise.
    Result<void> snapshotTo(const std::string& dest);

    /// Ids of every job ("j" + the sequence number in at least 6 digits, as fetchmld forms
    /// them), in sequence order.
    Result<std::vector<std::string>> jobIds();
    /// Every recorded commit (code and results trees): id and manifest text.
    Result<std::vector<std::pair<std::string, std::string>>> commits();
    /// Number of rows of table (a name from sqlite_master).
    Result<std::int64_t> count(const std::string& table);

    /// Takes the database's exclusive lock for as long as this connection is open
    /// (locking_mode=EXCLUSIVE, BEGIN EXCLUSIVE), failing at once instead of waiting.
    /// Errors: Busy "database <path> is in use by another process[ (pid N, <name>)]": in WAL
    /// mode every open connection (fetchmld's) holds a shared lock on the file.
    Result<void> lockExclusive();
    /// The tables (other than SQLite's own and schema_version) that hold at least one row.
    Result<std::vector<std::string>> tablesWithRows();
    /// PRAGMA quick_check. Errors: InvalidArgument with SQLite's first complaint.
    Result<void> quickCheck();

    const std::string& path() const { return path_; }

private:
    struct Closer {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    BackupDatabase(std::unique_ptr<sqlite3, Closer> db, std::string path)
        : db_(std::move(db)), path_(std::move(path)) {}

    Result<void> exec(const std::string& sql);
    Error error(const std::string& what) const;

    std::unique_ptr<sqlite3, Closer> db_;
    std::string path_;
};

/// The process that holds a lock on the SQLite database file at path (SQLite's POSIX lock on
/// its shared-lock byte range; https://www.sqlite.org/lockingv3.html), if one can be named:
/// "pid N, <comm>". Empty when no other process holds one, or it cannot be told.
std::string databaseLockHolder(const std::string& path);

}  // namespace fetchml::ctl
