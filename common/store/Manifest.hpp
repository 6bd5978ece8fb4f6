#pragma once
// Manifest: the canonical description of a file tree (docs/architecture/decisions.md
// "Manifest", docs/manifest.md). Text form:
//   fetchml-manifest 1\n
//   <mode> <size> <sha256> <path>\n     one line per regular file, sorted bytewise by path
// The commit id of a tree is the lowercase hex SHA-256 of that text.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

class StatCache;

/// One regular file of a tree.
struct ManifestEntry {
    std::string path;        ///< relative, '/'-separated, UTF-8 (Manifest::isValidPath)
    std::uint32_t mode = 0;  ///< 0100644 or 0100755 (only the owner-execute bit is kept)
    std::uint64_t size = 0;  ///< bytes
    std::string sha256;      ///< 64 lowercase hex digits of the file's bytes

    bool operator==(const ManifestEntry&) const = default;
};

/// Something Manifest::scan() found and left out of the manifest.
struct SkippedPath {
    std::string path;    ///< relative path as found (may not be valid UTF-8)
    std::string reason;  ///< "symbolic link", "not a regular file", "name is not valid UTF-8"
};

/// A validated manifest: entries sorted by path, unique, no file below another file.
class Manifest {
public:
    /// First line of the text, without its '\n'.
    static constexpr std::string_view kHeader = "fetchml-manifest 1";
    /// Mode values.
    static constexpr std::uint32_t kModeFile = 0100644;
    static constexpr std::uint32_t kModeExecutable = 0100755;

    /// An empty manifest (no files).
    Manifest() = default;

    /// Walks dir and hashes every regular file. Sorted, deterministic. Ignored: directories
    /// named .git at any depth, and what dir/.fetchmlignore lists in gitignore(5) syntax
    /// (IgnoreRules: '#' comments, '!' negation where the last matching pattern wins, "**",
    /// backslash escapes, a '/' at the beginning or middle anchors at dir, a trailing '/'
    /// matches directories only). Only dir/.fetchmlignore is read: ignore files in
    /// subdirectories are not, and .gitignore files are not read at all. An ignored directory
    /// is not entered, so a '!' pattern cannot re-include a file below it (as in git).
    /// Symbolic links (never followed), devices, sockets, FIFOs and names that are not valid
    /// UTF-8 or contain '\n' are left out and listed in skipped().
    /// Errors: NotFound when dir does not exist; Internal naming the path for I/O failures;
    /// InvalidArgument when a file changes while it is being hashed.
    /// With a cache (StatCache.hpp), a file whose lstat(2) data match its cache entry is not
    /// read: its hash comes from the cache; every other file is hashed and recorded there.
    static Result<Manifest> scan(const std::string& dir, StatCache* cache = nullptr);

    /// Parses and validates a manifest text. Errors: InvalidArgument "manifest line N: <what>"
    /// for a wrong header, a malformed line (mode, size, hash, path), a missing final '\n',
    /// paths out of order or repeated, or a file path below another file's path.
    static Result<Manifest> parse(std::string_view text);

    /// Builds a manifest from entries in any order; validates as parse() does
    /// (errors "manifest entry <path>: <what>").
    static Result<Manifest> fromEntries(std::vector<ManifestEntry> entries);

    /// The entries, sorted bytewise by path.
    const std::vector<ManifestEntry>& entries() const { return entries_; }
    /// What scan() left out (empty for parsed manifests).
    const std::vector<SkippedPath>& skipped() const { return skipped_; }
    /// The canonical text.
    std::string text() const;
    /// Lowercase hex SHA-256 of text(): the commit id (or results tree id).
    std::string commitId() const;
    /// Sum of all entries' sizes in bytes.
    std::uint64_t totalBytes() const;
    /// The distinct blob hashes of the entries, sorted.
    std::vector<std::string> blobHashes() const;

    /// True for a path allowed in a manifest: non-empty, relative, '/'-separated, no empty,
    /// "." or ".." components, no NUL or '\n', valid UTF-8.
    static bool isValidPath(std::string_view path);

private:
    std::vector<ManifestEntry> entries_;
    std::vector<SkippedPath> skipped_;
};

}  // namespace fetchml
