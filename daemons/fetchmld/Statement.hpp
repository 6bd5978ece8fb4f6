#pragma once
// Statement: one prepared SQLite statement (sqlite3_prepare_v2(3)) with typed binds and
// column getters. Owned by Database's statement cache; reset before every use.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/Result.hpp"

namespace fetchml {

/// Deleter for sqlite3_stmt (sqlite3_finalize(3)).
struct SqliteStmtDeleter {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
/// Owning pointer to a prepared statement.
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteStmtDeleter>;

/// A prepared statement. Bind indexes start at 1, column indexes at 0 (SQLite convention).
class Statement {
public:
    /// Takes ownership of a prepared statement of connection db.
    Statement(sqlite3* db, SqliteStmtPtr stmt) : db_(db), stmt_(std::move(stmt)) {}

    /// Resets the statement and clears its bindings, ready for new binds.
    Statement& reset();
    /// Binds text (copied by SQLite).
    Statement& bind(int index, const std::string& value);
    /// Binds a 64-bit integer.
    Statement& bind(int index, std::int64_t value);
    /// Binds a double.
    Statement& bind(int index, double value);
    /// Binds SQL NULL.
    Statement& bindNull(int index);

    /// Runs one step: true when a row is available, false when done.
    /// Errors: Busy (SQLITE_BUSY after the busy timeout), Internal (anything else, with
    /// SQLite's message); a bind error noticed earlier is reported here.
    Result<bool> step();
    /// Steps until done (for statements without rows).
    Result<void> run();
    /// Steps through every row, calling onRow with this statement at each. Errors: as step().
    Result<void> forEachRow(const std::function<void(const Statement&)>& onRow);

    /// Column value of the current row as text ("" for NULL).
    std::string text(int column) const;
    /// Column value as a 64-bit integer (0 for NULL).
    std::int64_t int64(int column) const;
    /// Column value as a double (0 for NULL).
    double real(int column) const;
    /// True when the column is NULL.
    bool isNull(int column) const;

private:
    void checkBind(int rc);

    sqlite3* db_;
    SqliteStmtPtr stmt_;
    std::string bindError_;
};

}  // namespace fetchml
