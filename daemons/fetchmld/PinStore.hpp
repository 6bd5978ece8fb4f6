#pragma once
// PinStore: pins (`fetchmlctl pin`, table pins of schema version 9). A pin keeps a recorded
// tree, a commit or a results tree, and every blob it names through garbage collection, however
// old it is and whether or not a job names it (decisions.md "Blob garbage collection").

#include <cstdint>
#include <string>
#include <vector>

#include "Database.hpp"
#include "JobStore.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// One pin.
struct Pin {
    std::string target;          ///< the tree's id (64 lowercase hex digits)
    std::string kind;            ///< "commit" or "results", as the tree was recorded
    std::string note;            ///< why it is kept ("" = none given)
    std::string user;            ///< who pinned it
    std::int64_t createdAt = 0;  ///< ms since the epoch
};

/// Pins of one database.
class PinStore {
public:
    /// Longest note, in bytes.
    static constexpr std::size_t kMaxNote = 500;

    explicit PinStore(Database& db, MsClock clock = wallClockMs)
        : db_(db), clock_(std::move(clock)) {}

    /// Pins a recorded tree for user. Pinning a pinned tree again replaces its note and keeps
    /// who pinned it and when. Errors: InvalidArgument "target: ..." for an id that is not 64
    /// lowercase hex digits, "note: ..." for a note over kMaxNote bytes or with a control
    /// character; NotFound "target: <id> is not a recorded commit or results tree" (garbage
    /// collection may have removed it already); SQLite's errors.
    Result<Pin> add(const std::string& target, const std::string& note, const std::string& user);
    /// Every pin, newest first.
    Result<std::vector<Pin>> list();
    /// Removes a pin; the tree then goes with the next garbage collection unless something else
    /// keeps it. Returns the pin as it was. Errors: NotFound "target: <id> is not pinned".
    Result<Pin> remove(const std::string& target);

private:
    /// The pin of target; nullopt when there is none.
    Result<std::optional<Pin>> find(const std::string& target);

    Database& db_;
    MsClock clock_;
};

}  // namespace fetchml
