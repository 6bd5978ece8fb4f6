#pragma once
// TreeWatcher: follows a directory tree with inotify(7) for `fetchmlctl watch`. One watch per
// directory of the tree, the same directories Manifest::scan walks: .git directories and what
// the root's .fetchmlignore ignores are not watched, and events about ignored names are
// counted apart. New directories are watched as they appear (with everything already inside
// them), removed or moved-away ones dropped. When the kernel's event queue overflowed
// (IN_Q_OVERFLOW: events were lost), or .fetchmlignore changed, the watches are rebuilt from
// a fresh walk of the tree. It only says that something changed; what changed is for the
// scan that follows to find out.

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/Result.hpp"
#include "store/IgnoreRules.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

/// Watches one tree. Not thread-safe; the descriptor is non-blocking.
class TreeWatcher {
public:
    /// What one read() found.
    struct Events {
        std::size_t changes = 0;  ///< events about files or directories that are part of the tree
        std::size_t ignored = 0;  ///< events about ignored names (.fetchmlignore, .git)
        bool overflow = false;    ///< events were lost (IN_Q_OVERFLOW); the watches were rebuilt
        bool rootGone = false;    ///< the root directory itself was removed or moved
        /// Relative paths of the first changes (at most kMaxPaths), for messages.
        std::vector<std::string> paths;
    };
    static constexpr std::size_t kMaxPaths = 8;

    /// Starts watching the tree at root (a directory). Errors: NotFound/Internal naming the
    /// path when root cannot be read; Busy "the inotify watch limit is reached ..." when the
    /// tree has more directories than fs.inotify.max_user_watches allows.
    static Result<std::unique_ptr<TreeWatcher>> open(const std::string& root);

    TreeWatcher(const TreeWatcher&) = delete;
    TreeWatcher& operator=(const TreeWatcher&) = delete;

    /// The inotify descriptor, to poll(2) for POLLIN.
    int fd() const { return fd_.get(); }
    /// Reads every queued event without blocking and follows new, removed and moved
    /// directories. Errors: as open() when new directories cannot be watched, Internal when
    /// the descriptor cannot be read.
    Result<Events> read();
    /// Number of directories watched.
    std::size_t directories() const { return dirs_.size(); }

private:
    TreeWatcher(std::string root, UniqueFd fd);

    bool isIgnored(const std::string& rel, const std::string& name, bool isDir) const;
    std::string pathOf(const std::string& rel) const;
    Result<void> loadIgnoreRules();
    // Watches the directory rel ("" = root) and, depth-first, every directory below it that is
    // not ignored; seen (optional) collects the watch descriptors.
    Result<void> watchTree(const std::string& rel, std::vector<int>* seen = nullptr);
    // Stops watching rel and everything below it.
    void unwatchTree(const std::string& rel);
    // A fresh walk: watches what is there now, drops every other watch.
    Result<void> rebuild();

    std::string root_;
    UniqueFd fd_;
    IgnoreRules ignore_;
    std::unordered_map<int, std::string> dirs_;  // watch descriptor -> relative path ("" = root)
    int rootWd_ = -1;
};

}  // namespace fetchml::ctl
