#pragma once
// Database: fetchmld's SQLite connection (WAL, busy timeout, foreign keys), a cache of
// prepared statements, schema migrations recorded in table schema_version, and a
// transaction helper. Used only from the daemon's one event loop thread.

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "Statement.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// Deleter for a connection (sqlite3_close_v2(3)).
struct Sqlite3Deleter {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
/// Owning pointer to a SQLite connection.
using Sqlite3Ptr = std::unique_ptr<sqlite3, Sqlite3Deleter>;

/// One SQLite database file.
class Database {
public:
    /// Opens (creating if needed) the file at path and sets journal_mode=WAL,
    /// synchronous=FULL (a submission is durable before it is acknowledged), busy_timeout
    /// busyMs (ms) and foreign_keys=ON (https://www.sqlite.org/pragma.html).
    /// Errors: Internal with the path and SQLite's message.
    static Result<std::unique_ptr<Database>> open(const std::string& path, int busyMs = 5000);

    /// Runs SQL text without results (may hold several statements).
    /// Errors: Busy or Internal with SQLite's message.
    Result<void> exec(const std::string& sql);

    /// The cached prepared statement for sql, reset and with bindings cleared. The pointer
    /// stays valid for the Database's lifetime; do not use one statement in two places at once.
    /// Errors: Internal (SQL does not compile).
    Result<Statement*> prepare(const std::string& sql);

    /// Runs body inside BEGIN IMMEDIATE ... COMMIT; rolls back when body returns an error
    /// (which is then returned). Not re-entrant.
    Result<void> transaction(const std::function<Result<void>()>& body);

    /// Applies migrations[i] for every i >= the stored schema version, each in its own
    /// transaction that also records the new version. Running it again is a no-op.
    /// Errors: the failing migration's index and SQLite's message.
    Result<void> migrate(const std::vector<std::string>& migrations);

    /// The schema version recorded in schema_version (0 for a new file).
    Result<int> schemaVersion();

    /// Rowid of the last INSERT on this connection.
    std::int64_t lastInsertRowid() const;
    /// Rows changed by the last INSERT, UPDATE or DELETE (sqlite3_changes64).
    std::int64_t changes() const;

    /// The raw handle (for sqlite3_backup and diagnostics).
    sqlite3* handle() const { return db_.get(); }

private:
    explicit Database(Sqlite3Ptr db) : db_(std::move(db)) {}

    Sqlite3Ptr db_;
    std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

}  // namespace fetchml
