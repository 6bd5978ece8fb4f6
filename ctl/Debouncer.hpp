#pragma once
// Debouncer: when `fetchmlctl watch` syncs after changes. A burst of changes (an editor saving
// several files, a checkout, a build writing its output) becomes one sync: the sync is due once
// no change came for the quiet time. A tree that never stays quiet that long (a log file in it
// written all the time) is synced anyway when the first unsynced change is maxDelay old. Time
// is passed in by the caller (ms on a monotonic clock), so the rules are tested without a clock.

#include <cstdint>
#include <optional>

namespace fetchml::ctl {

/// Decides when the changes seen so far are to be synced. Times in ms, monotonic.
class Debouncer {
public:
    /// quietMs: how long no change must come; maxDelayMs: the most a change waits (at least
    /// quietMs).
    Debouncer(std::int64_t quietMs, std::int64_t maxDelayMs);

    /// A change was seen at nowMs.
    void change(std::int64_t nowMs);
    /// A sync failed at nowMs: try again afterMs later (sooner when a change makes one due).
    void retry(std::int64_t nowMs, std::int64_t afterMs);
    /// The sync is starting: what was seen until now is being synced.
    void clear();

    /// True while something waits to be synced.
    bool pending() const { return first_.has_value() || retryAt_.has_value(); }
    /// True when the sync is due at nowMs.
    bool due(std::int64_t nowMs) const;
    /// How long poll(2) may wait at nowMs: -1 (for ever) when nothing is pending, else the ms
    /// until the sync is due (0 when it is).
    int timeoutMs(std::int64_t nowMs) const;

private:
    std::optional<std::int64_t> dueAt() const;

    std::int64_t quietMs_;
    std::int64_t maxDelayMs_;
    std::optional<std::int64_t> first_;  // first change since the last sync
    std::int64_t last_ = 0;              // latest change
    std::optional<std::int64_t> retryAt_;
};

}  // namespace fetchml::ctl
