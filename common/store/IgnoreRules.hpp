#pragma once
// IgnoreRules: the patterns of a .fetchmlignore file, in gitignore(5) syntax (docs/manifest.md
// ".fetchmlignore"), and the question "is this path ignored?". The rule logic follows git
// (dir.c, wildmatch.c); each path segment is matched with fnmatch(3).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// The patterns of one ignore file, in file order.
class IgnoreRules {
public:
    /// No patterns: nothing is ignored.
    IgnoreRules() = default;

    /// Parses the text of an ignore file in gitignore(5) syntax: one pattern a line ('\n', or
    /// "\r\n"); a UTF-8 byte order mark at the start is skipped; blank lines and lines starting
    /// with '#' hold no pattern; unescaped trailing spaces are removed ("\ " keeps one);
    /// a leading '!' negates ("\!" and "\#" start a literal '!' or '#'); a trailing '/' matches
    /// directories only; a '/' at the beginning or in the middle anchors the pattern at the
    /// ignore file's directory, otherwise it matches a name at any depth; "**" as a whole
    /// segment matches any number of directories ("**/x", "x/**/y"; a trailing "/**" matches
    /// everything inside, one or more segments). Never fails: a line that is no usable
    /// pattern (such as "!" or "/") matches nothing, as in git.
    static IgnoreRules parse(std::string_view text);

    /// The rules of the tree whose root directory is open as dirFd (dir names it in messages):
    /// dir/.fetchmlignore parsed, or no rules when that file is absent or a symbolic link
    /// (never followed). Only the root's file counts (docs/manifest.md). Errors: Internal
    /// "opening|reading <dir>/.fetchmlignore: <strerror>".
    static Result<IgnoreRules> readTree(int dirFd, const std::string& dir);

    /// True when path is ignored: the last pattern matching it decides, and it is ignored
    /// unless that pattern is negated ('!'); a path no pattern matches is not ignored.
    /// path is relative to the ignore file's directory, '/'-separated, without a leading or
    /// trailing '/' (e.g. "src/model.pyc"); isDir says whether it names a directory (a symbolic
    /// link is not one). Parent directories are not looked at: a walker must not enter an
    /// ignored directory, which is why a file below one cannot be re-included (as in git).
    bool isIgnored(std::string_view path, bool isDir) const;

    /// Number of patterns kept by parse().
    std::size_t size() const { return patterns_.size(); }

private:
    struct Pattern {
        std::vector<std::string> segments;  // fnmatch(3) globs, or "**" for any directories
        bool negated = false;               // '!': a match re-includes
        bool dirOnly = false;               // trailing '/'
        bool basename = false;              // no '/': matches the last segment at any depth
    };
    static bool matches(const Pattern& p, const std::vector<std::string>& pathSegments);

    std::vector<Pattern> patterns_;
};

}  // namespace fetchml
