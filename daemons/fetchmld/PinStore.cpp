#include "PinStore.hpp"

#include "store/Sha256.hpp"

namespace fetchml {

namespace {

constexpr const char* kSelect =
    "SELECT p.target, COALESCE(c.kind, ''), p.note, p.user, p.created_at FROM pins p "
    "LEFT JOIN commits c ON c.id = p.target";

Pin pinFromRow(const Statement& row) {
    return Pin{row.text(0), row.text(1), row.text(2), row.text(3), row.int64(4)};
}

}  // namespace

Result<std::optional<Pin>> PinStore::find(const std::string& target) {
    auto stmt = db_.prepare(std::string(kSelect) + " WHERE p.target = ?");
    if (!stmt) {
        return stmt.error();
    }
    std::optional<Pin> found;
    if (auto r = (*stmt)->bind(1, target).forEachRow(
            [&](const Statement& row) { found = pinFromRow(row); });
        !r) {
        return r.error();
    }
    return found;
}

Result<Pin> PinStore::add(const std::string& target, const std::string& note,
                          const std::string& user) {
    if (!Sha256::isValidHex(target)) {
        return makeError(ErrorCode::InvalidArgument,
                         "target: '" + target.substr(0, 80) +
                             "' is not a commit or results tree id (64 lowercase hex digits)");
    }
    if (note.size() > kMaxNote) {
        return makeError(ErrorCode::InvalidArgument,
                         "note: at most " + std::to_string(kMaxNote) + " bytes");
    }
    for (unsigned char c : note) {
        if (c < 0x20 || c == 0x7f) {
            return makeError(ErrorCode::InvalidArgument, "note: no control characters");
        }
    }
    auto known = db_.prepare("SELECT 1 FROM commits WHERE id = ?");
    if (!known) {
        return known.error();
    }
    auto row = (*known)->bind(1, target).step();
    (*known)->reset();
    if (!row) {
        return row.error();
    }
    if (!*row) {
        return makeError(ErrorCode::NotFound,
                         "target: " + target + " is not a recorded commit or results tree");
    }
    auto insert = db_.prepare(
        "INSERT INTO pins (target, note, user, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (target) DO UPDATE SET note = excluded.note");
    if (!insert) {
        return insert.error();
    }
    if (auto r = (*insert)->bind(1, target).bind(2, note).bind(3, user).bind(4, clock_()).run();
        !r) {
        return r.error();
    }
    auto pin = find(target);
    if (!pin) {
        return pin.error();
    }
    if (!*pin) {
        return makeError(ErrorCode::Internal, "pin of " + target + " not found after storing it");
    }
    return **pin;
}

Result<std::vector<Pin>> PinStore::list() {
    auto stmt = db_.prepare(std::string(kSelect) + " ORDER BY p.created_at DESC, p.target");
    if (!stmt) {
        return stmt.error();
    }
    std::vector<Pin> pins;
    if (auto r =
            (*stmt)->forEachRow([&](const Statement& row) { pins.push_back(pinFromRow(row)); });
        !r) {
        return r.error();
    }
    return pins;
}

Result<Pin> PinStore::remove(const std::string& target) {
    auto pin = find(target);
    if (!pin) {
        return pin.error();
    }
    if (!*pin) {
        return makeError(ErrorCode::NotFound, "target: " + target.substr(0, 80) + " is not pinned");
    }
    auto del = db_.prepare("DELETE FROM pins WHERE target = ?");
    if (!del) {
        return del.error();
    }
    if (auto r = (*del)->bind(1, target).run(); !r) {
        return r.error();
    }
    return **pin;
}

}  // namespace fetchml
