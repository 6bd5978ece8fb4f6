#include "store/Manifest.hpp"

#include "core/Utf8.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <memory>
#include <unordered_set>

#include "store/IgnoreRules.hpp"
#include "store/Sha256.hpp"
#include "store/StatCache.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

// Checks one entry's fields; the message says what is wrong, without location.
Result<void> validateEntry(const ManifestEntry& e) {
    if (e.mode != Manifest::kModeFile && e.mode != Manifest::kModeExecutable) {
        return makeError(ErrorCode::InvalidArgument, "mode must be 100644 or 100755");
    }
    if (!Sha256::isValidHex(e.sha256)) {
        return makeError(ErrorCode::InvalidArgument, "sha256 must be 64 lowercase hex digits");
    }
    if (!Manifest::isValidPath(e.path)) {
        return makeError(ErrorCode::InvalidArgument, "invalid path");
    }
    return {};
}

// Sorted, unique, and no path below another file's path (a tree cannot hold both "a" and
// "a/b"). where(i) names entry i in messages.
Result<void> validateOrder(const std::vector<ManifestEntry>& entries,
                           const std::function<std::string(std::size_t)>& where) {
    std::unordered_set<std::string_view> files;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string& p = entries[i].path;
        if (i > 0 && !(entries[i - 1].path < p)) {
            return makeError(ErrorCode::InvalidArgument,
                             where(i) + (entries[i - 1].path == p ? ": repeated path"
                                                                  : ": paths are not sorted"));
        }
        files.insert(p);
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
        std::string_view p = entries[i].path;
        for (std::size_t pos = p.find('/'); pos != std::string_view::npos;
             pos = p.find('/', pos + 1)) {
            if (files.count(p.substr(0, pos)) != 0) {
                return makeError(
                    ErrorCode::InvalidArgument,
                    where(i) + ": path is below the file " + std::string(p.substr(0, pos)));
            }
        }
    }
    return {};
}

Result<ManifestEntry> parseLine(std::string_view line) {
    ManifestEntry e;
    auto bad = [](const char* what) { return makeError(ErrorCode::InvalidArgument, what); };
    if (line.size() < 7 || line[6] != ' ') {
        return bad("expected '<mode> <size> <sha256> <path>'");
    }
    std::string_view mode = line.substr(0, 6);
    if (mode == "100644") {
        e.mode = Manifest::kModeFile;
    } else if (mode == "100755") {
        e.mode = Manifest::kModeExecutable;
    } else {
        return bad("mode must be 100644 or 100755");
    }
    line.remove_prefix(7);
    std::size_t space = line.find(' ');
    std::string_view size = line.substr(0, space);
    if (space == std::string_view::npos || size.empty() || (size.size() > 1 && size[0] == '0')) {
        return bad("size must be a decimal number without leading zeros");
    }
    auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), e.size);
    if (ec != std::errc() || end != size.data() + size.size()) {
        return bad("size must be a decimal number without leading zeros");
    }
    line.remove_prefix(space + 1);
    if (line.size() < Sha256::kHexDigits + 1 || line[Sha256::kHexDigits] != ' ' ||
        !Sha256::isValidHex(line.substr(0, Sha256::kHexDigits))) {
        return bad("sha256 must be 64 lowercase hex digits followed by one space");
    }
    e.sha256 = std::string(line.substr(0, Sha256::kHexDigits));
    e.path = std::string(line.substr(Sha256::kHexDigits + 1));
    if (!Manifest::isValidPath(e.path)) {
        return bad("invalid path (relative, '/'-separated, no empty, '.' or '..' parts, UTF-8)");
    }
    return e;
}

Error ioError(ErrorCode code, const std::string& what) {
    return makeError(code, what + ": " + std::strerror(errno));
}

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

// Depth-first walk collecting regular files; dirFd is owned by the caller.
class Scanner {
public:
    Scanner(std::string root, IgnoreRules ignore, StatCache* cache)
        : root_(std::move(root)), ignore_(std::move(ignore)), cache_(cache) {}

    Result<void> walk(int dirFd, const std::string& prefix) {
        UniqueFd dup(::fcntl(dirFd, F_DUPFD_CLOEXEC, 0));
        std::unique_ptr<DIR, DirCloser> dir(dup ? ::fdopendir(dup.get()) : nullptr);
        if (!dir) {
            return ioError(ErrorCode::Internal, "reading directory " + at(prefix));
        }
        dup.release();  // owned by dir now
        std::vector<std::string> names;
        errno = 0;
        while (dirent* ent = ::readdir(dir.get())) {
            std::string name = ent->d_name;
            if (name != "." && name != "..") {
                names.push_back(std::move(name));
            }
        }
        if (errno != 0) {
            return ioError(ErrorCode::Internal, "reading directory " + at(prefix));
        }
        for (const std::string& name : names) {
            if (auto r = visit(dirFd, prefix, name); !r) {
                return r;
            }
        }
        return {};
    }

    std::vector<ManifestEntry> entries;
    std::vector<SkippedPath> skipped;

private:
    std::string at(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }

    Result<void> visit(int dirFd, const std::string& prefix, const std::string& name) {
        std::string rel = prefix.empty() ? name : prefix + "/" + name;
        struct stat st {};
        if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return ioError(ErrorCode::Internal, "stat of " + at(rel));
        }
        bool isDir = S_ISDIR(st.st_mode);
        // .git is never part of a tree; an ignored directory is not entered, so nothing below
        // it can be re-included by a '!' pattern (as in git).
        if ((isDir && name == ".git") || ignore_.isIgnored(rel, isDir)) {
            return {};
        }
        if (name.find('\n') != std::string::npos || !isValidUtf8(name)) {
            skipped.push_back({rel, "name is not valid UTF-8 or contains a newline"});
            return {};
        }
        if (isDir) {
            UniqueFd sub(
                ::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) {
                return ioError(ErrorCode::Internal, "opening directory " + at(rel));
            }
            return walk(sub.get(), rel);
        }
        if (S_ISLNK(st.st_mode)) {
            skipped.push_back({rel, "symbolic link"});
            return {};
        }
        if (!S_ISREG(st.st_mode)) {
            skipped.push_back({rel, "not a regular file"});
            return {};
        }
        if (cache_ != nullptr) {
            if (auto known = cache_->lookup(rel, FileStat::of(st))) {
                ManifestEntry e;
                e.path = std::move(rel);
                e.mode = modeOf(st);
                e.size = static_cast<std::uint64_t>(st.st_size);
                e.sha256 = std::move(*known);
                entries.push_back(std::move(e));
                return {};
            }
        }
        return hashFile(dirFd, name, rel);
    }

    static std::uint32_t modeOf(const struct stat& st) {
        return (st.st_mode & S_IXUSR) != 0 ? Manifest::kModeExecutable : Manifest::kModeFile;
    }

    Result<void> hashFile(int dirFd, const std::string& name, const std::string& rel) {
        UniqueFd fd(::openat(dirFd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0) {
            return ioError(ErrorCode::Internal, "opening " + at(rel));
        }
        (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        std::uint64_t bytes = 0;
        auto hash = Sha256::hashFd(fd.get(), &bytes);
        if (!hash) {
            return makeError(hash.error().code, "hashing " + at(rel) + ": " + hash.error().message);
        }
        if (bytes != static_cast<std::uint64_t>(st.st_size)) {
            return makeError(ErrorCode::InvalidArgument,
                             "file " + at(rel) + " changed while it was being hashed");
        }
        if (cache_ != nullptr) {
            // The stat data from before the read: a change during or after it moves the ctime
            // past what is recorded, so the next scan hashes the file again.
            cache_->record(rel, FileStat::of(st), *hash);
        }
        ManifestEntry e;
        e.path = rel;
        e.mode = modeOf(st);
        e.size = bytes;
        e.sha256 = std::move(*hash);
        entries.push_back(std::move(e));
        return {};
    }

    std::string root_;
    IgnoreRules ignore_;
    StatCache* cache_;
};

}  // namespace

bool Manifest::isValidPath(std::string_view path) {
    if (path.empty() || path.find('\0') != std::string_view::npos ||
        path.find('\n') != std::string_view::npos || !isValidUtf8(path)) {
        return false;
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t slash = path.find('/', start);
        std::string_view part = path.substr(start, slash - start);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        start = slash + 1;
    }
}

Result<Manifest> Manifest::scan(const std::string& dir, StatCache* cache) {
    UniqueFd rootFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootFd) {
        return ioError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                       "opening directory " + dir);
    }
    auto ignore = IgnoreRules::readTree(rootFd.get(), dir);
    if (!ignore) {
        return ignore.error();
    }
    Scanner scanner(dir, std::move(*ignore), cache);
    if (auto walked = scanner.walk(rootFd.get(), ""); !walked) {
        return walked.error();
    }
    std::sort(scanner.entries.begin(), scanner.entries.end(),
              [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
    std::sort(scanner.skipped.begin(), scanner.skipped.end(),
              [](const SkippedPath& a, const SkippedPath& b) { return a.path < b.path; });
    Manifest m;
    m.entries_ = std::move(scanner.entries);
    m.skipped_ = std::move(scanner.skipped);
    return m;
}

Result<Manifest> Manifest::parse(std::string_view text) {
    auto lineError = [](std::size_t line, const std::string& what) {
        return makeError(ErrorCode::InvalidArgument,
                         "manifest line " + std::to_string(line) + ": " + what);
    };
    Manifest m;
    std::size_t lineNo = 0;
    while (!text.empty()) {
        ++lineNo;
        std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            return lineError(lineNo, "missing final newline");
        }
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (lineNo == 1) {
            if (line != kHeader) {
                return lineError(1, "expected header '" + std::string(kHeader) + "'");
            }
            continue;
        }
        auto entry = parseLine(line);
        if (!entry) {
            return lineError(lineNo, entry.error().message);
        }
        m.entries_.push_back(std::move(*entry));
    }
    if (lineNo == 0) {
        return lineError(1, "expected header '" + std::string(kHeader) + "'");
    }
    // Entry i is on line i + 2 (the header is line 1).
    auto where = [](std::size_t i) { return "manifest line " + std::to_string(i + 2); };
    if (auto ordered = validateOrder(m.entries_, where); !ordered) {
        return ordered.error();
    }
    return m;
}

Result<Manifest> Manifest::fromEntries(std::vector<ManifestEntry> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
    for (const auto& e : entries) {
        if (auto valid = validateEntry(e); !valid) {
            return makeError(ErrorCode::InvalidArgument,
                             "manifest entry " + e.path + ": " + valid.error().message);
        }
    }
    auto where = [&entries](std::size_t i) { return "manifest entry " + entries[i].path; };
    if (auto ordered = validateOrder(entries, where); !ordered) {
        return ordered.error();
    }
    Manifest m;
    m.entries_ = std::move(entries);
    return m;
}

std::string Manifest::text() const {
    std::string out;
    out.reserve(kHeader.size() + 1 + entries_.size() * 100);
    out += kHeader;
    out += '\n';
    for (const auto& e : entries_) {
        out += e.mode == kModeExecutable ? "100755 " : "100644 ";
        out += std::to_string(e.size);
        out += ' ';
        out += e.sha256;
        out += ' ';
        out += e.path;
        out += '\n';
    }
    return out;
}

std::string Manifest::commitId() const {
    return Sha256::hashBuffer(text());
}

std::uint64_t Manifest::totalBytes() const {
    std::uint64_t total = 0;
    for (const auto& e : entries_) {
        total += e.size;
    }
    return total;
}

std::vector<std::string> Manifest::blobHashes() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) {
        out.push_back(e.sha256);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace fetchml
