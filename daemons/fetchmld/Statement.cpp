#include "Statement.hpp"

namespace fetchml {

Statement& Statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bindError_.clear();
    return *this;
}

void Statement::checkBind(int rc) {
    if (rc != SQLITE_OK && bindError_.empty()) {
        bindError_ = sqlite3_errmsg(db_);
    }
}

Statement& Statement::bind(int index, const std::string& value) {
    checkBind(sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                                SQLITE_TRANSIENT));
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    checkBind(sqlite3_bind_int64(stmt_.get(), index, value));
    return *this;
}

Statement& Statement::bind(int index, double value) {
    checkBind(sqlite3_bind_double(stmt_.get(), index, value));
    return *this;
}

Statement& Statement::bindNull(int index) {
    checkBind(sqlite3_bind_null(stmt_.get(), index));
    return *this;
}

Result<void> Statement::forEachRow(const std::function<void(const Statement&)>& onRow) {
    while (true) {
        auto row = step();
        if (!row) {
            return row.error();
        }
        if (!*row) {
            return {};
        }
        onRow(*this);
    }
}

Result<bool> Statement::step() {
    if (!bindError_.empty()) {
        return makeError(ErrorCode::Internal, "database bind failed: " + bindError_);
    }
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    std::string message = sqlite3_errmsg(db_);
    sqlite3_reset(stmt_.get());
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        return makeError(ErrorCode::Busy, "database is busy: " + message);
    }
    return makeError(ErrorCode::Internal, "database error: " + message);
}

Result<void> Statement::run() {
    return forEachRow([](const Statement&) {});
}

std::string Statement::text(int column) const {
    const auto* data = sqlite3_column_text(stmt_.get(), column);
    if (data == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(data),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

double Statement::real(int column) const {
    return sqlite3_column_double(stmt_.get(), column);
}

bool Statement::isNull(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

}  // namespace fetchml
