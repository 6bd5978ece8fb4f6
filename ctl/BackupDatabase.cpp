#include "BackupDatabase.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

ErrorCode codeFor(int rc) {
    rc &= 0xff;
    return (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::Busy : ErrorCode::Internal;
}

std::string quoteIdentifier(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

// SQLite's unix VFS locks these bytes of the database file (os_unix.c, lockingv3.html):
// every connection holds a read lock on the shared range, in WAL mode for as long as it is
// open.
constexpr off_t kPendingByte = 0x40000000;
constexpr off_t kSharedFirst = kPendingByte + 2;
constexpr off_t kSharedSize = 510;

}  // namespace

Result<BackupDatabase> BackupDatabase::open(const std::string& path, Mode mode, int busyMs) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        int err = errno;
        return makeError(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "database " + path + ": " + std::strerror(err));
    }
    int flags = mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw);
    if (rc != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
        return makeError(ErrorCode::Internal, "cannot open database " + path + ": " + message);
    }
    sqlite3_busy_timeout(db.get(), busyMs);
    return BackupDatabase(std::move(db), path);
}

Error BackupDatabase::error(const std::string& what) const {
    return makeError(codeFor(sqlite3_errcode(db_.get())),
                     what + " (" + path_ + "): " + sqlite3_errmsg(db_.get()));
}

Result<void> BackupDatabase::exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string text = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return makeError(codeFor(rc), "database " + path_ + ": " + text);
    }
    return {};
}

Result<void> BackupDatabase::snapshotTo(const std::string& dest) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(dest.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, Closer> out(raw);
    // Removes the half-made copy; message is SQLite's explanation for rc.
    auto fail = [&](const std::string& what, int code, const std::string& message) {
        out.reset();
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
            ::unlink((dest + suffix).c_str());
        }
        return makeError(codeFor(code), what + ": " + message);
    };
    if (rc != SQLITE_OK) {
        return fail("cannot create " + dest, rc,
                    out ? sqlite3_errmsg(out.get()) : sqlite3_errstr(rc));
    }
    sqlite3_busy_timeout(out.get(), 10000);
    // One step over every page. A step that finds the source locked (a checkpoint or WAL
    // recovery in progress) returns BUSY/LOCKED and may be repeated; smaller steps would
    // restart whenever fetchmld writes between them, which a busy server does all the time.
    sqlite3_backup* backup = sqlite3_backup_init(out.get(), "main", db_.get(), "main");
    if (backup == nullptr) {
        rc = sqlite3_errcode(out.get());
        return fail("cannot start the backup of " + path_, rc, sqlite3_errmsg(out.get()));
    }
    for (int attempt = 0;; ++attempt) {
        rc = sqlite3_backup_step(backup, -1);
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        break;
    }
    if (rc != SQLITE_DONE) {
        sqlite3_backup_finish(backup);
        return fail("backup of " + path_ + " into " + dest + " failed", rc, sqlite3_errstr(rc));
    }
    if (sqlite3_backup_finish(backup) != SQLITE_OK) {
        rc = sqlite3_errcode(out.get());
        return fail("backup of " + path_ + " into " + dest + " failed", rc,
                    sqlite3_errmsg(out.get()));
    }
    rc = sqlite3_exec(out.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return fail("cannot set journal_mode=DELETE on " + dest, rc, sqlite3_errmsg(out.get()));
    }
    rc = sqlite3_close_v2(out.release());
    if (rc != SQLITE_OK) {
        return fail("cannot close " + dest, rc, sqlite3_errstr(rc));
    }
    return {};
}

Result<std::vector<std::string>> BackupDatabase::jobIds() {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "SELECT seq FROM jobs ORDER BY seq", -1, &raw, nullptr) !=
        SQLITE_OK) {
        return error("cannot read the jobs");
    }
    StmtPtr stmt(raw);
    std::vector<std::string> ids;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        char id[32];
        std::snprintf(id, sizeof id, "j%06lld",
                      static_cast<long long>(sqlite3_column_int64(stmt.get(), 0)));
        ids.emplace_back(id);
    }
    if (rc != SQLITE_DONE) {
        return error("cannot read the jobs");
    }
    return ids;
}

Result<std::vector<std::pair<std::string, std::string>>> BackupDatabase::commits() {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "SELECT id, manifest FROM commits ORDER BY id", -1, &raw,
                           nullptr) != SQLITE_OK) {
        return error("cannot read the commits");
    }
    StmtPtr stmt(raw);
    std::vector<std::pair<std::string, std::string>> out;
    int rc = SQLITE_ROW;
    auto text = [&](int col) {
        const auto* p = sqlite3_column_text(stmt.get(), col);
        return p == nullptr
                   ? std::string()
                   : std::string(reinterpret_cast<const char*>(p),
                                 static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), col)));
    };
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        out.emplace_back(text(0), text(1));
    }
    if (rc != SQLITE_DONE) {
        return error("cannot read the commits");
    }
    return out;
}

Result<std::int64_t> BackupDatabase::count(const std::string& table) {
    sqlite3_stmt* raw = nullptr;
    const std::string sql = "SELECT COUNT(*) FROM " + quoteIdentifier(table);
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
        return error("cannot count the rows of " + table);
    }
    StmtPtr stmt(raw);
    if (sqlite3_step(stmt.get()) != SQLITE_ROW) {
        return error("cannot count the rows of " + table);
    }
    return static_cast<std::int64_t>(sqlite3_column_int64(stmt.get(), 0));
}

Result<void> BackupDatabase::lockExclusive() {
    sqlite3_busy_timeout(db_.get(), 0);
    auto locked = exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
    sqlite3_busy_timeout(db_.get(), 10000);
    if (!locked) {
        if (locked.error().code != ErrorCode::Busy) {
            return locked;
        }
        std::string holder = databaseLockHolder(path_);
        return makeError(ErrorCode::Busy, "database " + path_ + " is in use by another process" +
                                              (holder.empty() ? "" : " (" + holder + ")"));
    }
    return {};
}

Result<std::vector<std::string>> BackupDatabase::tablesWithRows() {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(),
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name",
                           -1, &raw, nullptr) != SQLITE_OK) {
        return error("cannot list the tables");
    }
    StmtPtr stmt(raw);
    std::vector<std::string> tables;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0)));
    }
    if (rc != SQLITE_DONE) {
        return error("cannot list the tables");
    }
    stmt.reset();
    std::vector<std::string> withRows;
    for (const auto& table : tables) {
        const std::string sql = "SELECT 1 FROM " + quoteIdentifier(table) + " LIMIT 1";
        if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
            return error("cannot read table " + table);
        }
        StmtPtr probe(raw);
        rc = sqlite3_step(probe.get());
        if (rc == SQLITE_ROW) {
            withRows.push_back(table);
        } else if (rc != SQLITE_DONE) {
            return error("cannot read table " + table);
        }
    }
    return withRows;
}

Result<void> BackupDatabase::quickCheck() {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "PRAGMA quick_check", -1, &raw, nullptr) != SQLITE_OK) {
        return makeError(ErrorCode::InvalidArgument,
                         "database " + path_ + " is damaged: " + sqlite3_errmsg(db_.get()));
    }
    StmtPtr stmt(raw);
    int rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) {
        return makeError(ErrorCode::InvalidArgument,
                         "database " + path_ + " is damaged: " + sqlite3_errmsg(db_.get()));
    }
    const auto* first = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
    std::string answer = first == nullptr ? "" : first;
    if (answer != "ok") {
        return makeError(ErrorCode::InvalidArgument,
                         "database " + path_ + " is damaged: " + answer);
    }
    return {};
}

std::string databaseLockHolder(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return "";
    }
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = kSharedFirst;
    lock.l_len = kSharedSize;
    if (::fcntl(fd.get(), F_GETLK, &lock) != 0 || lock.l_type == F_UNLCK || lock.l_pid <= 0) {
        return "";
    }
    std::string name;
    std::ifstream comm("/proc/" + std::to_string(lock.l_pid) + "/comm");
    std::getline(comm, name);
    return "pid " + std::to_string(lock.l_pid) + (name.empty() ? "" : ", " + name);
}

}  // namespace fetchml::ctl
