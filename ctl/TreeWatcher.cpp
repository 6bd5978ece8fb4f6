#include "TreeWatcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fetchml::ctl {

namespace {

// What each watched directory reports: entries created, deleted, written, moved in or out or
// changed in mode or times, and the directory itself going away. IN_MODIFY too, so that a long
// write (a big copy) keeps the debounce waiting until it is done. IN_ONLYDIR and IN_DONT_FOLLOW:
// a path swapped for a symbolic link or a file between the walk and the call is not watched.
constexpr std::uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

Error watchError(const std::string& path) {
    if (errno == ENOSPC) {
        return makeError(ErrorCode::Busy,
                         "the inotify watch limit is reached at " + path +
                             " (sysctl fs.inotify.max_user_watches; or ignore directories in "
                             ".fetchmlignore)");
    }
    return makeError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                     "cannot watch " + path + ": " + std::strerror(errno));
}

bool below(const std::string& rel, const std::string& dir) {
    return rel == dir || (rel.size() > dir.size() && rel.compare(0, dir.size(), dir) == 0 &&
                          rel[dir.size()] == '/');
}

}  // namespace

TreeWatcher::TreeWatcher(std::string root, UniqueFd fd)
    : root_(std::move(root)), fd_(std::move(fd)) {}

Result<std::unique_ptr<TreeWatcher>> TreeWatcher::open(const std::string& root) {
    UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd) {
        return makeError(ErrorCode::Internal,
                         std::string("inotify_init1: ") + std::strerror(errno) +
                             (errno == EMFILE ? " (sysctl fs.inotify.max_user_instances)" : ""));
    }
    std::unique_ptr<TreeWatcher> watcher(new TreeWatcher(root, std::move(fd)));
    if (auto loaded = watcher->loadIgnoreRules(); !loaded) {
        return loaded.error();
    }
    if (auto watched = watcher->watchTree(""); !watched) {
        return watched.error();
    }
    return watcher;
}

std::string TreeWatcher::pathOf(const std::string& rel) const {
    return rel.empty() ? root_ : root_ + "/" + rel;
}

bool TreeWatcher::isIgnored(const std::string& rel, const std::string& name, bool isDir) const {
    // As Manifest::scan: .git directories at any depth, then the root's .fetchmlignore.
    return (isDir && name == ".git") || ignore_.isIgnored(rel, isDir);
}

Result<void> TreeWatcher::loadIgnoreRules() {
    UniqueFd dir(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        return makeError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "opening directory " + root_ + ": " + std::strerror(errno));
    }
    auto rules = IgnoreRules::readTree(dir.get(), root_);
    if (!rules) {
        return rules.error();
    }
    ignore_ = std::move(*rules);
    return {};
}

Result<void> TreeWatcher::watchTree(const std::string& rel, std::vector<int>* seen) {
    const std::string path = pathOf(rel);
    // Watch first, then list: a directory created in between is reported by this watch.
    int wd = ::inotify_add_watch(fd_.get(), path.c_str(), kMask);
    if (wd < 0) {
        if (!rel.empty() && (errno == ENOENT || errno == ENOTDIR)) {
            return {};  // gone again, or no longer a directory: its parent reports that
        }
        return watchError(path);
    }
    dirs_[wd] = rel;  // a directory watched before keeps its descriptor, maybe under a new path
    if (rel.empty()) {
        rootWd_ = wd;
    }
    if (seen != nullptr) {
        seen->push_back(wd);
    }
    std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
    if (!dir) {
        return {};  // removed meanwhile (its IN_DELETE_SELF is queued), or unreadable
    }
    std::vector<std::string> subdirs;
    while (dirent* ent = ::readdir(dir.get())) {
        const std::string name = ent->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        bool isDir = ent->d_type == DT_DIR;
        if (ent->d_type == DT_UNKNOWN) {
            struct stat st {};
            isDir = ::fstatat(::dirfd(dir.get()), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISDIR(st.st_mode);
        }
        const std::string sub = rel.empty() ? name : rel + "/" + name;
        if (isDir && !isIgnored(sub, name, true)) {
            subdirs.push_back(sub);
        }
    }
    dir.reset();
    for (const auto& sub : subdirs) {
        if (auto watched = watchTree(sub, seen); !watched) {
            return watched;
        }
    }
    return {};
}

void TreeWatcher::unwatchTree(const std::string& rel) {
    for (auto it = dirs_.begin(); it != dirs_.end();) {
        if (it->first != rootWd_ && below(it->second, rel)) {
            ::inotify_rm_watch(fd_.get(), it->first);  // its IN_IGNORED is then skipped
            it = dirs_.erase(it);
        } else {
            ++it;
        }
    }
}

Result<void> TreeWatcher::rebuild() {
    if (auto loaded = loadIgnoreRules(); !loaded) {
        return loaded;
    }
    std::vector<int> seen;
    if (auto watched = watchTree("", &seen); !watched) {
        return watched;
    }
    std::sort(seen.begin(), seen.end());
    for (auto it = dirs_.begin(); it != dirs_.end();) {
        if (!std::binary_search(seen.begin(), seen.end(), it->first)) {
            ::inotify_rm_watch(fd_.get(), it->first);
            it = dirs_.erase(it);
        } else {
            ++it;
        }
    }
    return {};
}

Result<TreeWatcher::Events> TreeWatcher::read() {
    Events events;
    bool rebuildWanted = false;
    alignas(inotify_event) char buf[64 * 1024];
    // At most 1 MiB of events a call, so that a tree that never stops changing cannot hold the
    // caller here; the rest stays queued and the descriptor stays readable.
    for (int reads = 0; reads < 16; ++reads) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        if (n <= 0) {
            return makeError(ErrorCode::Internal,
                             std::string("reading inotify events: ") +
                                 (n < 0 ? std::strerror(errno) : "end of file"));
        }
        for (ssize_t at = 0; at < n;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if ((ev->mask & IN_Q_OVERFLOW) != 0) {
                events.overflow = true;
                rebuildWanted = true;
                continue;
            }
            if ((ev->mask & IN_IGNORED) != 0) {
                dirs_.erase(ev->wd);  // the directory is gone (or we stopped watching it)
                continue;
            }
            auto dir = dirs_.find(ev->wd);
            if (dir == dirs_.end()) {
                continue;  // a watch dropped since the event was queued
            }
            if (ev->wd == rootWd_ && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
                events.rootGone = true;
                continue;
            }
            if (ev->len == 0) {
                continue;  // about a subdirectory itself: its parent reports the same change
            }
            const std::string name = ev->name;  // NUL-padded
            const std::string rel = dir->second.empty() ? name : dir->second + "/" + name;
            const bool isDir = (ev->mask & IN_ISDIR) != 0;
            if (isDir && (ev->mask & IN_MOVED_FROM) != 0) {
                unwatchTree(rel);  // ignored or not: it is no longer where it was
            }
            if (isIgnored(rel, name, isDir)) {
                ++events.ignored;
                continue;
            }
            ++events.changes;
            if (events.paths.size() < kMaxPaths) {
                events.paths.push_back(rel);
            }
            if (isDir && (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
                if (auto watched = watchTree(rel); !watched) {
                    return watched.error();
                }
            }
            if (rel == ".fetchmlignore") {
                rebuildWanted = true;  // other directories may be ignored now, or no longer
            }
        }
    }
    if (rebuildWanted && !events.rootGone) {
        if (auto rebuilt = rebuild(); !rebuilt) {
            return rebuilt.error();
        }
    }
    return events;
}

}  // namespace fetchml::ctl
