#pragma once
// StoreLock: the lock between the store's garbage collection and backups, flock(2) on
// <store root>/lock (decisions.md "Blob garbage collection"). fetchmld's collection removes
// blobs only while it holds the lock exclusively; `fetchmlctl backup` holds it shared from its
// database snapshot until every blob that snapshot names is copied. So a backup never misses a
// blob its snapshot names, and a collection that meets a running backup leaves the blobs for
// the next one. flock(2) locks belong to the open file, so a process that dies releases them.

#include <optional>
#include <string>

#include "core/Result.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

/// A held lock on a store; released when destroyed. Movable, not copyable.
class StoreLock {
public:
    /// Shared: backups (any number at once). Exclusive: a collection removing blobs.
    enum class Mode { Shared, Exclusive };

    /// <root>/lock, created (mode 0640) when missing.
    static std::string pathOf(const std::string& storeRoot) { return storeRoot + "/lock"; }
    /// Takes the lock if no holder of the other mode (or, for Exclusive, any holder) has it;
    /// nullopt when one has. Errors: Internal naming the lock file when it cannot be opened or
    /// created, or flock(2) fails otherwise.
    static Result<std::optional<StoreLock>> tryLock(const std::string& storeRoot, Mode mode);
    /// Takes the lock, waiting for as long as the holders keep it. Errors: as tryLock().
    static Result<StoreLock> lock(const std::string& storeRoot, Mode mode);

private:
    explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace fetchml
