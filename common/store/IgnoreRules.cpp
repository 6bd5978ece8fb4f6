#include "store/IgnoreRules.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Drops trailing spaces that are not escaped with a backslash, as git's trim_trailing_spaces():
// "a  " -> "a", "a\ " -> "a\ ", "a\  " -> "a\ ". Tabs are kept, as in git.
std::string_view trimTrailingSpaces(std::string_view line) {
    std::size_t trailing = std::string_view::npos;  // start of the run of spaces at the end
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == ' ') {
            trailing = std::min(trailing, i);
            continue;
        }
        if (line[i] == '\\' && ++i == line.size()) {
            return line;  // a lone backslash at the end: git leaves the line as it is
        }
        trailing = std::string_view::npos;
    }
    return line.substr(0, trailing);
}

// Splits a pattern at '/'. An escaped "\/" is a separator too: wildmatch matches it against a
// '/' of the path. Other escapes stay for fnmatch(3) to interpret.
std::vector<std::string> splitPattern(std::string_view pattern) {
    std::vector<std::string> out(1);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            if (pattern[i + 1] == '/') {
                out.emplace_back();
            } else {
                out.back() += c;
                out.back() += pattern[i + 1];
            }
            ++i;
        } else if (c == '/') {
            out.emplace_back();
        } else {
            out.back() += c;
        }
    }
    return out;
}

// A whole segment of two or more '*' is git's "**" (wildmatch treats "***" the same way).
bool isGlobstar(const std::string& segment) {
    return segment.size() >= 2 && segment.find_first_not_of('*') == std::string::npos;
}

std::vector<std::string> splitPath(std::string_view path) {
    std::vector<std::string> out;
    for (;;) {
        std::size_t slash = path.find('/');
        out.emplace_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            return out;
        }
        path.remove_prefix(slash + 1);
    }
}

// One path segment against one glob. Segments never contain '/', so FNM_PATHNAME only makes
// sure that nothing in the glob (a bracket expression) could ever match one.
bool globMatches(const std::string& glob, const std::string& segment) {
    return ::fnmatch(glob.c_str(), segment.c_str(), FNM_PATHNAME) == 0;
}

}  // namespace

IgnoreRules IgnoreRules::parse(std::string_view text) {
    IgnoreRules rules;
    if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
        text.remove_prefix(kUtf8Bom.size());
    }
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        // git decides "blank or comment" on the raw line, before removing '\r' and spaces.
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.back() == '\r') {
            line.remove_suffix(1);
        }
        line = trimTrailingSpaces(line);
        Pattern p;
        if (!line.empty() && line.front() == '!') {
            p.negated = true;
            line.remove_prefix(1);
        }
        if (!line.empty() && line.back() == '/') {
            p.dirOnly = true;
            line.remove_suffix(1);
        }
        if (line.empty()) {
            continue;  // "", "!", "/" or "!/": git keeps them, but they match nothing
        }
        // A '/' left at the beginning or in the middle anchors the pattern (gitignore(5)).
        p.basename = line.find('/') == std::string_view::npos;
        std::vector<std::string> segments = splitPattern(line);
        if (!p.basename && segments.front().empty()) {
            segments.erase(segments.begin());  // one leading '/' only anchors; "//x" stays odd
        }
        for (std::string& s : segments) {
            // Consecutive "**" segments match what one does: zero or more directories, or one
            // or more when the run ends the pattern; keep one.
            if (!p.basename && isGlobstar(s)) {
                if (!p.segments.empty() && p.segments.back() == "**") {
                    continue;
                }
                s = "**";
            }
            p.segments.push_back(std::move(s));
        }
        rules.patterns_.push_back(std::move(p));
    }
    return rules;
}

bool IgnoreRules::matches(const Pattern& p, const std::vector<std::string>& path) {
    if (p.basename) {
        return globMatches(p.segments.front(), path.back());
    }
    // m[i * (n + 1) + j]: pattern segments i.. match path segments j.. (filled from the end).
    // A table rather than backtracking: at most one fnmatch(3) per (pattern, path) segment pair
    // however many "**" the pattern has.
    const std::size_t np = p.segments.size();
    const std::size_t n = path.size();
    std::vector<char> m((np + 1) * (n + 1), 0);
    auto at = [n, &m](std::size_t i, std::size_t j) -> char& { return m[i * (n + 1) + j]; };
    at(np, n) = 1;
    for (std::size_t i = np; i-- > 0;) {
        const std::string& seg = p.segments[i];
        for (std::size_t j = n + 1; j-- > 0;) {
            if (seg == "**") {
                // Trailing "/**": everything inside, so at least one segment. Elsewhere: zero
                // segments, or one more and still "**".
                at(i, j) = i + 1 == np ? j < n : (at(i + 1, j) || (j < n && at(i, j + 1)));
            } else {
                at(i, j) = j < n && at(i + 1, j + 1) && globMatches(seg, path[j]);
            }
        }
    }
    return at(0, 0) != 0;
}

bool IgnoreRules::isIgnored(std::string_view path, bool isDir) const {
    if (patterns_.empty() || path.empty()) {
        return false;
    }
    const std::vector<std::string> segments = splitPath(path);
    for (auto p = patterns_.rbegin(); p != patterns_.rend(); ++p) {
        if (p->dirOnly && !isDir) {
            continue;
        }
        if (matches(*p, segments)) {
            return !p->negated;
        }
    }
    return false;
}

Result<IgnoreRules> IgnoreRules::readTree(int dirFd, const std::string& dir) {
    auto failed = [&dir](const char* what) {
        return makeError(ErrorCode::Internal, std::string(what) + " " + dir +
                                                  "/.fetchmlignore: " + std::strerror(errno));
    };
    UniqueFd fd(::openat(dirFd, ".fetchmlignore", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT || errno == ELOOP) {
            return IgnoreRules();  // absent, or a symlink we do not follow
        }
        return failed("opening");
    }
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return failed("reading");
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    return parse(text);
}

}  // namespace fetchml
