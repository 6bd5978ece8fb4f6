#include "SqliteJobQueue.hpp"

#include <cctype>
#include <optional>

namespace fetchml {

namespace {

constexpr std::int64_t kCancelTtlMs = 604800LL * 1000;  // a week
constexpr std::int64_t kEventsKept = 100000;

// A row id given back as text; nullopt unless 1-18 decimal digits (fits in int64).
std::optional<std::int64_t> parseId(const std::string& text) {
    if (text.empty() || text.size() > 18) {
        return std::nullopt;
    }
    for (char c : text) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
            return std::nullopt;
        }
    }
    return std::stoll(text);
}

}  // namespace

std::vector<std::string> SqliteJobQueue::migrations() {
    return {
        // 1: the queue. AUTOINCREMENT so an id is never reused: a completed entry's id must
        // not come back as held by someone else's renew().
        "CREATE TABLE queue_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);"
        "CREATE TABLE queue_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, "
        "  payload TEXT NOT NULL, consumer TEXT NULL, lease_until INTEGER NOT NULL DEFAULT 0, "
        "  deliveries INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX queue_entries_consumer ON queue_entries (consumer, id);"
        "CREATE INDEX queue_entries_lease ON queue_entries (lease_until) "
        "  WHERE consumer IS NOT NULL;"
        "CREATE TABLE queue_cancels (job TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);"
        "CREATE TABLE queue_events (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, "
        "  payload TEXT NOT NULL);",
    };
}

Result<std::unique_ptr<SqliteJobQueue>> SqliteJobQueue::open(const std::string& path,
                                                             std::int64_t leaseMs, MsClock clock) {
    if (leaseMs <= 0) {
        return makeError(ErrorCode::InvalidArgument, "the queue lease must be positive");
    }
    auto db = Database::open(path);
    if (!db) {
        return db.error();
    }
    if (auto migrated = (*db)->migrate(migrations()); !migrated) {
        return migrated.error();
    }
    return std::unique_ptr<SqliteJobQueue>(
        new SqliteJobQueue(std::move(*db), leaseMs, std::move(clock)));
}

Result<void> SqliteJobQueue::raiseJobSeq(std::int64_t atLeast) {
    auto stmt = db_.prepare(
        "INSERT INTO queue_seq (id, value) VALUES (1, ?1) "
        "ON CONFLICT (id) DO UPDATE SET value = MAX(value, ?1)");
    if (!stmt) {
        return stmt.error();
    }
    return (*stmt)->bind(1, atLeast).run();
}

Result<std::int64_t> SqliteJobQueue::nextJobSeq() {
    std::int64_t seq = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "INSERT INTO queue_seq (id, value) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET value = value + 1 RETURNING value");
        if (!stmt) {
            return stmt.error();
        }
        return (*stmt)->forEachRow([&](const Statement& row) { seq = row.int64(0); });
    });
    if (!done) {
        return done.error();
    }
    return seq;
}

Result<std::string> SqliteJobQueue::publish(const std::string& jobId, const std::string& payload) {
    std::int64_t id = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare("INSERT INTO queue_entries (job, payload) VALUES (?1, ?2)");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, jobId).bind(2, payload).run(); !r) {
            return r;
        }
        id = db_.lastInsertRowid();
        return {};
    });
    if (!done) {
        return done.error();
    }
    return std::to_string(id);
}

Result<std::vector<QueueEntry>> SqliteJobQueue::takeEntries(const std::string& consumer,
                                                            std::uint32_t max, bool reclaiming) {
    std::vector<QueueEntry> entries;
    if (consumer.empty()) {
        return makeError(ErrorCode::InvalidArgument, "the queue consumer must not be empty");
    }
    if (max == 0) {
        return entries;
    }
    auto done = db_.transaction([&]() -> Result<void> {
        const std::int64_t now = clock_();
        auto select = db_.prepare(
            reclaiming ? "SELECT id, job, payload, deliveries FROM queue_entries "
                         "WHERE consumer IS NOT NULL AND lease_until <= ?2 ORDER BY id LIMIT ?1"
                       : "SELECT id, job, payload, deliveries FROM queue_entries "
                         "WHERE consumer IS NULL ORDER BY id LIMIT ?1");
        if (!select) {
            return select.error();
        }
        (*select)->bind(1, static_cast<std::int64_t>(max));
        if (reclaiming) {
            (*select)->bind(2, now);
        }
        auto read = (*select)->forEachRow([&](const Statement& row) {
            QueueEntry entry;
            entry.entryId = std::to_string(row.int64(0));
            entry.jobId = row.text(1);
            entry.payload = row.text(2);
            entry.deliveries = static_cast<std::uint32_t>(row.int64(3) + 1);
            entries.push_back(std::move(entry));
        });
        if (!read) {
            return read;
        }
        auto update = db_.prepare(
            "UPDATE queue_entries SET consumer = ?1, lease_until = ?2, "
            "deliveries = deliveries + 1 WHERE id = ?3");
        if (!update) {
            return update.error();
        }
        for (const auto& entry : entries) {
            auto r = (*update)
                         ->reset()
                         .bind(1, consumer)
                         .bind(2, now + leaseMs_)
                         .bind(3, *parseId(entry.entryId))
                         .run();
            if (!r) {
                return r;
            }
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return entries;
}

Result<std::vector<QueueEntry>> SqliteJobQueue::claim(const std::string& consumer,
                                                      std::uint32_t max) {
    return takeEntries(consumer, max, false);
}

Result<std::vector<QueueEntry>> SqliteJobQueue::reclaim(const std::string& consumer,
                                                        std::uint32_t max) {
    return takeEntries(consumer, max, true);
}

Result<std::vector<QueueEntry>> SqliteJobQueue::held(const std::string& consumer) {
    std::vector<QueueEntry> entries;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "SELECT id, job, payload, deliveries FROM queue_entries WHERE consumer = ?1 "
            "ORDER BY id");
        if (!stmt) {
            return stmt.error();
        }
        return (*stmt)->bind(1, consumer).forEachRow([&](const Statement& row) {
            QueueEntry entry;
            entry.entryId = std::to_string(row.int64(0));
            entry.jobId = row.text(1);
            entry.payload = row.text(2);
            entry.deliveries = static_cast<std::uint32_t>(row.int64(3));
            entries.push_back(std::move(entry));
        });
    });
    if (!done) {
        return done.error();
    }
    return entries;
}

Result<std::vector<std::string>> SqliteJobQueue::renew(const std::string& consumer,
                                                       const std::vector<std::string>& entryIds) {
    std::vector<std::string> lost;
    auto done = db_.transaction([&]() -> Result<void> {
        lost.clear();
        const std::int64_t now = clock_();
        auto stmt = db_.prepare(
            "UPDATE queue_entries SET lease_until = ?1 WHERE id = ?2 AND consumer = ?3");
        if (!stmt) {
            return stmt.error();
        }
        for (const auto& entryId : entryIds) {
            auto id = parseId(entryId);
            if (!id) {
                lost.push_back(entryId);
                continue;
            }
            auto r = (*stmt)->reset().bind(1, now + leaseMs_).bind(2, *id).bind(3, consumer).run();
            if (!r) {
                return r;
            }
            if (db_.changes() == 0) {
                lost.push_back(entryId);
            }
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return lost;
}

Result<void> SqliteJobQueue::complete(const std::string& consumer, const std::string& entryId) {
    auto notHeld =
        makeError(ErrorCode::NotFound, "queue entry " + entryId + " is not held by " + consumer);
    auto id = parseId(entryId);
    if (!id) {
        return notHeld;
    }
    return db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare("DELETE FROM queue_entries WHERE id = ?1 AND consumer = ?2");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, *id).bind(2, consumer).run(); !r) {
            return r;
        }
        if (db_.changes() == 0) {
            return notHeld;
        }
        return {};
    });
}

Result<std::uint64_t> SqliteJobQueue::waiting() {
    std::uint64_t count = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare("SELECT COUNT(*) FROM queue_entries WHERE consumer IS NULL");
        if (!stmt) {
            return stmt.error();
        }
        return (*stmt)->forEachRow(
            [&](const Statement& row) { count = static_cast<std::uint64_t>(row.int64(0)); });
    });
    if (!done) {
        return done.error();
    }
    return count;
}

Result<void> SqliteJobQueue::requestCancel(const std::string& jobId) {
    return db_.transaction([&]() -> Result<void> {
        const std::int64_t now = clock_();
        auto expired = db_.prepare("DELETE FROM queue_cancels WHERE expires_at <= ?1");
        if (!expired) {
            return expired.error();
        }
        if (auto r = (*expired)->bind(1, now).run(); !r) {
            return r;
        }
        auto stmt = db_.prepare(
            "INSERT INTO queue_cancels (job, expires_at) VALUES (?1, ?2) "
            "ON CONFLICT (job) DO UPDATE SET expires_at = excluded.expires_at");
        if (!stmt) {
            return stmt.error();
        }
        return (*stmt)->bind(1, jobId).bind(2, now + kCancelTtlMs).run();
    });
}

Result<std::vector<std::string>> SqliteJobQueue::cancelRequested(
    const std::vector<std::string>& jobIds) {
    std::vector<std::string> requested;
    auto done = db_.transaction([&]() -> Result<void> {
        requested.clear();
        const std::int64_t now = clock_();
        auto stmt = db_.prepare("SELECT 1 FROM queue_cancels WHERE job = ?1 AND expires_at > ?2");
        if (!stmt) {
            return stmt.error();
        }
        for (const auto& jobId : jobIds) {
            bool found = false;
            auto r = (*stmt)->reset().bind(1, jobId).bind(2, now).forEachRow(
                [&](const Statement&) { found = true; });
            if (!r) {
                return r;
            }
            if (found) {
                requested.push_back(jobId);
            }
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return requested;
}

Result<std::string> SqliteJobQueue::announce(const std::string& jobId, const std::string& payload) {
    std::int64_t id = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare("INSERT INTO queue_events (job, payload) VALUES (?1, ?2)");
        if (!stmt) {
            return stmt.error();
        }
        if (auto r = (*stmt)->bind(1, jobId).bind(2, payload).run(); !r) {
            return r;
        }
        id = db_.lastInsertRowid();
        auto trim = db_.prepare("DELETE FROM queue_events WHERE id <= ?1");
        if (!trim) {
            return trim.error();
        }
        return (*trim)->bind(1, id - kEventsKept).run();
    });
    if (!done) {
        return done.error();
    }
    return std::to_string(id);
}

Result<std::vector<QueueEvent>> SqliteJobQueue::events(const std::string& afterId,
                                                       std::uint32_t max) {
    std::optional<std::int64_t> after = afterId.empty() ? 0 : parseId(afterId);
    if (!after) {
        return makeError(ErrorCode::InvalidArgument, "\"" + afterId + "\" is not a queue event id");
    }
    std::vector<QueueEvent> events;
    if (max == 0) {
        return events;
    }
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "SELECT id, job, payload FROM queue_events WHERE id > ?1 ORDER BY id LIMIT ?2");
        if (!stmt) {
            return stmt.error();
        }
        return (*stmt)
            ->bind(1, *after)
            .bind(2, static_cast<std::int64_t>(max))
            .forEachRow([&](const Statement& row) {
                events.push_back(
                    QueueEvent{std::to_string(row.int64(0)), row.text(1), row.text(2)});
            });
    });
    if (!done) {
        return done.error();
    }
    return events;
}

}  // namespace fetchml
