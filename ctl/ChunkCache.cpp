#include "ChunkCache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>

#include "BackupFiles.hpp"
#include "store/Sha256.hpp"

namespace fetchml::ctl {

namespace {

constexpr std::string_view kHeader = "fetchml-fine-chunks 1\n";

bool parseDecimal(std::string_view digits, std::uint64_t& value) {
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) {
        return false;
    }
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return ec == std::errc() && end == digits.data() + digits.size();
}

// Takes the next line of text (without its '\n'); false when there is no complete line.
bool nextLine(std::string_view& text, std::string_view& line) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
        return false;
    }
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return true;
}

}  // namespace

std::string userCacheDir(const char* xdgCacheHome, const char* home, const std::string& name) {
    if (xdgCacheHome != nullptr && xdgCacheHome[0] == '/') {
        return std::string(xdgCacheHome) + "/fetchml/" + name;
    }
    if (home != nullptr && home[0] == '/') {
        return std::string(home) + "/.cache/fetchml/" + name;
    }
    return "";
}

std::string chunkCacheDir(const char* xdgCacheHome, const char* home) {
    return userCacheDir(xdgCacheHome, home, "chunks");
}

std::string formatFineChunks(const FineChunks& entry) {
    std::string out(kHeader);
    out.reserve(out.size() + (entry.chunks.size() + 2) * (Sha256::kHexDigits + 8));
    out += "file " + entry.sha256 + " " + std::to_string(entry.size) + "\n";
    for (const auto& chunk : entry.chunks) {
        out += chunk.sha256;
        out += ' ';
        out += std::to_string(chunk.size);
        out += '\n';
    }
    out += "end " + std::to_string(entry.chunks.size()) + "\n";
    return out;
}

Result<FineChunks> parseFineChunks(std::string_view text) {
    auto bad = [](const std::string& what) { return makeError(ErrorCode::InvalidArgument, what); };
    if (text.substr(0, kHeader.size()) != kHeader) {
        return bad("not a fine chunk list (expected '" +
                   std::string(kHeader.substr(0, kHeader.size() - 1)) + "')");
    }
    text.remove_prefix(kHeader.size());
    std::string_view line;
    FineChunks entry;
    if (!nextLine(text, line) || line.substr(0, 5) != "file " ||
        line.size() < 5 + Sha256::kHexDigits + 2 || line[5 + Sha256::kHexDigits] != ' ' ||
        !Sha256::isValidHex(line.substr(5, Sha256::kHexDigits)) ||
        !parseDecimal(line.substr(6 + Sha256::kHexDigits), entry.size)) {
        return bad("line 2: expected 'file <sha256> <size>'");
    }
    entry.sha256 = std::string(line.substr(5, Sha256::kHexDigits));
    // The chunk lines run up to the "end" line, the last one.
    std::size_t endAt = text.rfind("end ");
    if (endAt == std::string_view::npos || (endAt != 0 && text[endAt - 1] != '\n')) {
        return bad("no 'end' line (a truncated file)");
    }
    std::string_view tail = text.substr(endAt);
    std::uint64_t count = 0;
    if (!nextLine(tail, line) || !tail.empty() || !parseDecimal(line.substr(4), count)) {
        return bad("the last line is not 'end <number of chunks>'");
    }
    auto chunks = parseChunkList(text.substr(0, endAt));
    if (!chunks) {
        return bad("chunk " + chunks.error().message);
    }
    if (chunks->size() != count) {
        return bad("the end line counts " + std::to_string(count) + " chunks, there are " +
                   std::to_string(chunks->size()));
    }
    std::uint64_t sum = 0;
    for (const auto& chunk : *chunks) {
        sum += chunk.size;
    }
    if (sum != entry.size) {
        return bad("chunk sizes add up to " + std::to_string(sum) + " bytes, not the file's " +
                   std::to_string(entry.size));
    }
    entry.chunks = std::move(*chunks);
    return entry;
}

std::string ChunkCache::pathOf(const std::string& rel) const {
    if (dir_.empty()) {
        return "";
    }
    std::string key = root_;
    key += '\0';
    key += rel;
    return dir_ + "/" + Sha256::hashBuffer(key) + ".fine";
}

std::optional<FineChunks> ChunkCache::load(const std::string& rel) const {
    if (dir_.empty()) {
        return std::nullopt;
    }
    std::ifstream in(pathOf(rel), std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto entry = parseFineChunks(text.str());
    if (!entry) {
        return std::nullopt;
    }
    return std::move(*entry);
}

Result<void> ChunkCache::save(const std::string& rel, const FineChunks& entry) const {
    if (dir_.empty()) {
        return {};
    }
    // New directories 0700, the entry 0600: the cache says which files a user has.
    auto made = makeDirs(dir_, 0700);
    if (!made) {
        return made;
    }
    return writeFileAtomic(pathOf(rel), formatFineChunks(entry), 0600);
}

namespace {

constexpr std::int64_t kDayS = 86400;

/// mtime of path in seconds since the epoch; -1 when it cannot be read.
std::int64_t mtimeOf(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtim.tv_sec) : -1;
}

void setMtime(const std::string& path, std::int64_t nowS) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(nowS), 0}};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

}  // namespace

void ChunkCache::keep(const std::vector<std::string>& rels, std::int64_t nowS,
                      std::int64_t maxAgeS) const {
    if (dir_.empty()) {
        return;
    }
    for (const auto& rel : rels) {
        const std::string entry = pathOf(rel);
        const std::int64_t used = mtimeOf(entry);
        if (used >= 0 && used < nowS - kDayS) {
            setMtime(entry, nowS);
        }
    }
    const std::string marker = dir_ + "/.pruned";
    const std::int64_t pruned = mtimeOf(marker);
    if (pruned >= nowS - kDayS && pruned <= nowS) {
        return;  // pruned within the last day
    }
    std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(dir_.c_str()), &::closedir);
    if (!listing) {
        return;
    }
    while (const dirent* e = ::readdir(listing.get())) {
        const std::string name = e->d_name;
        // Entries only: "<64 hex digits>.fine".
        if (name.size() != Sha256::kHexDigits + 5 ||
            name.compare(Sha256::kHexDigits, 5, ".fine") != 0) {
            continue;
        }
        const std::string path = dir_ + "/" + name;
        const std::int64_t used = mtimeOf(path);
        if (used >= 0 && used < nowS - maxAgeS) {
            ::unlink(path.c_str());
        }
    }
    // The marker: created (0600) if missing, its time set to now.
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        ::close(fd);
        setMtime(marker, nowS);
    }
}

}  // namespace fetchml::ctl
