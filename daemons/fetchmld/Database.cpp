#include "Database.hpp"

namespace fetchml {

namespace {

Error sqliteError(sqlite3* db, const std::string& what) {
    int rc = sqlite3_errcode(db);
    ErrorCode code =
        (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::Busy : ErrorCode::Internal;
    return makeError(code, what + ": " + sqlite3_errmsg(db));
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::string& path, int busyMs) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    Sqlite3Ptr db(raw);
    if (rc != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
        return makeError(ErrorCode::Internal, "cannot open database " + path + ": " + message);
    }
    sqlite3_busy_timeout(db.get(), busyMs);
    sqlite3_extended_result_codes(db.get(), 0);
    std::unique_ptr<Database> database(new Database(std::move(db)));
    auto pragmas =
        database->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (!pragmas) {
        return makeError(pragmas.error().code,
                         "cannot configure database " + path + ": " + pragmas.error().message);
    }
    return database;
}

Result<void> Database::exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string text = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        ErrorCode code =
            (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? ErrorCode::Busy : ErrorCode::Internal;
        return makeError(code, "database error: " + text);
    }
    return {};
}

Result<Statement*> Database::prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) {
        return &it->second->reset();
    }
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
        SQLITE_OK) {
        return sqliteError(db_.get(), "cannot prepare statement");
    }
    auto statement = std::make_unique<Statement>(db_.get(), SqliteStmtPtr(raw));
    Statement* result = statement.get();
    statements_.emplace(sql, std::move(statement));
    return result;
}

Result<void> Database::transaction(const std::function<Result<void>()>& body) {
    if (auto begin = exec("BEGIN IMMEDIATE"); !begin) {
        return begin;
    }
    auto result = body();
    if (!result) {
        (void)exec("ROLLBACK");
        return result;
    }
    if (auto commit = exec("COMMIT"); !commit) {
        (void)exec("ROLLBACK");
        return commit;
    }
    return {};
}

Result<int> Database::schemaVersion() {
    auto created = exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
        "applied_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)))");
    if (!created) {
        return created.error();
    }
    auto stmt = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->step();
    if (!row) {
        return row.error();
    }
    int version = static_cast<int>((*stmt)->int64(0));
    (*stmt)->reset();
    return version;
}

Result<void> Database::migrate(const std::vector<std::string>& migrations) {
    auto current = schemaVersion();
    if (!current) {
        return current.error();
    }
    for (std::size_t i = static_cast<std::size_t>(*current); i < migrations.size(); ++i) {
        auto applied = transaction([&]() -> Result<void> {
            if (auto r = exec(migrations[i]); !r) {
                return r;
            }
            auto stmt = prepare("INSERT INTO schema_version (version) VALUES (?)");
            if (!stmt) {
                return stmt.error();
            }
            return (*stmt)->bind(1, static_cast<std::int64_t>(i + 1)).run();
        });
        if (!applied) {
            return makeError(applied.error().code, "schema migration " + std::to_string(i + 1) +
                                                       " failed: " + applied.error().message);
        }
    }
    return {};
}

std::int64_t Database::lastInsertRowid() const {
    return sqlite3_last_insert_rowid(db_.get());
}

std::int64_t Database::changes() const {
    return sqlite3_changes64(db_.get());
}

}  // namespace fetchml
