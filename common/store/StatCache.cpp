#include "store/StatCache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// The start of the whole second that holds ns (floor, also before the epoch).
std::int64_t wholeSecond(std::int64_t ns) {
    std::int64_t s = ns / kNsPerSecond;
    if (ns % kNsPerSecond < 0) {
        --s;
    }
    return s * kNsPerSecond;
}

// One space-separated field from the front of line; empty when there is none.
std::string_view field(std::string_view& line) {
    std::size_t space = line.find(' ');
    std::string_view f = line.substr(0, space);
    line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
    return f;
}

template <typename T>
bool number(std::string_view text, T& out, int base = 10) {
    if (text.empty() || text[0] == '+') {
        return false;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && end == text.data() + text.size();
}

Error bad(const std::string& what) {
    return makeError(ErrorCode::InvalidArgument, what);
}

Result<std::string> readWhole(int fd) {
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return makeError(ErrorCode::Internal, std::strerror(errno));
        }
        if (n == 0) {
            return text;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace

FileStat FileStat::of(const struct stat& st) {
    FileStat s;
    s.size = static_cast<std::uint64_t>(st.st_size);
    s.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * kNsPerSecond + st.st_mtim.tv_nsec;
    s.ctimeNs = static_cast<std::int64_t>(st.st_ctim.tv_sec) * kNsPerSecond + st.st_ctim.tv_nsec;
    s.inode = static_cast<std::uint64_t>(st.st_ino);
    s.device = static_cast<std::uint64_t>(st.st_dev);
    s.mode = static_cast<std::uint32_t>(st.st_mode);
    return s;
}

StatCache::StatCache(std::string root) : root_(std::move(root)) {}

std::string StatCache::rootKey(const std::string& root) {
    return Sha256::hashBuffer(root);
}

Result<StatCache> StatCache::parse(std::string_view text, std::string root) {
    StatCache cache(std::move(root));
    // The last line is "end <count> <sha256 of everything before it>".
    if (text.empty() || text.back() != '\n') {
        return bad("truncated (no final newline)");
    }
    std::size_t lastStart = text.rfind('\n', text.size() - 2);
    lastStart = lastStart == std::string_view::npos ? 0 : lastStart + 1;
    std::string_view body = text.substr(0, lastStart);
    std::string_view last = text.substr(lastStart, text.size() - lastStart - 1);
    if (field(last) != "end") {
        return bad("truncated (no end line)");
    }
    std::size_t count = 0;
    if (!number(field(last), count) || last != Sha256::hashBuffer(body)) {
        return bad("end line: wrong checksum");
    }

    std::size_t lineNo = 0;
    auto lineError = [&lineNo](const std::string& what) {
        return bad("line " + std::to_string(lineNo) + ": " + what);
    };
    const std::string rootLine = "root " + rootKey(cache.root_);
    while (!body.empty()) {
        ++lineNo;
        std::size_t nl = body.find('\n');
        std::string_view line = body.substr(0, nl);
        body.remove_prefix(nl + 1);
        if (lineNo == 1) {
            if (line != kHeader) {
                return lineError("expected '" + std::string(kHeader) + "'");
            }
            continue;
        }
        if (lineNo == 2) {
            if (line != rootLine) {
                return lineError("the cache of another tree");
            }
            continue;
        }
        if (lineNo == 3) {
            std::int64_t start = 0;
            if (field(line) != "scan-start" || !number(line, start)) {
                return lineError("expected 'scan-start <ns>'");
            }
            cache.trustBeforeNs_ = wholeSecond(start);
            continue;
        }
        Entry e;
        if (!number(field(line), e.stat.size) || !number(field(line), e.stat.mtimeNs) ||
            !number(field(line), e.stat.ctimeNs) || !number(field(line), e.stat.inode) ||
            !number(field(line), e.stat.device) || !number(field(line), e.stat.mode, 8)) {
            return lineError("malformed stat fields");
        }
        e.sha256 = std::string(field(line));
        if (!Sha256::isValidHex(e.sha256) || !Manifest::isValidPath(line)) {
            return lineError("malformed hash or path");
        }
        if (!cache.old_.emplace(std::string(line), std::move(e)).second) {
            return lineError("repeated path");
        }
    }
    if (lineNo < 3) {
        return bad("truncated header");
    }
    if (count != cache.old_.size()) {
        return bad("end line: wrong entry count");
    }
    return cache;
}

StatCache StatCache::load(const std::string& path, std::string root, std::string* why) {
    auto fail = [&](const std::string& reason) {
        if (why != nullptr) {
            *why = reason;
        }
        return StatCache(root);
    };
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return fail(errno == ENOENT ? "" : std::string(std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return fail("not a regular file");
    }
    if (st.st_uid != ::geteuid()) {
        return fail("owned by another user");
    }
    auto text = readWhole(fd.get());
    if (!text) {
        return fail(text.error().message);
    }
    auto parsed = parse(*text, root);
    if (!parsed) {
        return fail(parsed.error().message);
    }
    if (why != nullptr) {
        why->clear();
    }
    return std::move(*parsed);
}

std::optional<std::string> StatCache::lookup(const std::string& rel, const FileStat& st) {
    auto it = old_.find(rel);
    if (it == old_.end() || !(it->second.stat == st) || st.mtimeNs >= trustBeforeNs_ ||
        st.ctimeNs >= trustBeforeNs_) {
        return std::nullopt;
    }
    ++reused_;
    current_[rel] = it->second;
    return it->second.sha256;
}

void StatCache::record(const std::string& rel, const FileStat& st, std::string sha256) {
    ++hashed_;
    hashedBytes_ += st.size;
    current_[rel] = Entry{st, std::move(sha256)};
}

std::string StatCache::serialize(std::int64_t scanStartNs) const {
    const std::int64_t trustBefore = wholeSecond(scanStartNs);
    std::vector<const std::pair<const std::string, Entry>*> kept;
    kept.reserve(current_.size());
    for (const auto& item : current_) {
        // Racily clean: the file may change again within its timestamp's tick unseen.
        if (item.second.stat.mtimeNs < trustBefore && item.second.stat.ctimeNs < trustBefore) {
            kept.push_back(&item);
        }
    }
    std::sort(kept.begin(), kept.end(), [](auto* a, auto* b) { return a->first < b->first; });
    std::string out;
    out.reserve(200 + kept.size() * 160);
    out += kHeader;
    out += "\nroot " + rootKey(root_) + "\nscan-start " + std::to_string(scanStartNs) + "\n";
    char mode[16];
    for (const auto* item : kept) {
        const FileStat& s = item->second.stat;
        auto [end, ec] = std::to_chars(mode, mode + sizeof mode, s.mode, 8);
        (void)ec;
        out += std::to_string(s.size) + ' ' + std::to_string(s.mtimeNs) + ' ' +
               std::to_string(s.ctimeNs) + ' ' + std::to_string(s.inode) + ' ' +
               std::to_string(s.device) + ' ';
        out.append(mode, end);
        out += ' ' + item->second.sha256 + ' ' + item->first + '\n';
    }
    const std::string checksum = Sha256::hashBuffer(out);
    out += "end " + std::to_string(kept.size()) + ' ' + checksum + '\n';
    return out;
}

Result<void> StatCache::save(const std::string& path, std::int64_t scanStartNs) const {
    auto failed = [&path](int err) {
        return makeError(ErrorCode::Internal,
                         "cannot write " + path + ": " + std::string(std::strerror(err)));
    };
    const std::string text = serialize(scanStartNs);
    std::string tmp = path + ".tmp-XXXXXX";
    UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));  // mode 0600
    if (!fd) {
        return failed(errno);
    }
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::unlink(tmp.c_str());
            return failed(err);
        }
        done += static_cast<std::size_t>(n);
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return failed(err);
    }
    return {};
}

}  // namespace fetchml
