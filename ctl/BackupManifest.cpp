#include "BackupManifest.hpp"

#include <algorithm>
#include <charconv>

#include "store/Sha256.hpp"

namespace fetchml::ctl {

namespace {

constexpr std::string_view kEnd = "end ";

Error lineError(std::size_t line, const std::string& what) {
    return makeError(ErrorCode::InvalidArgument,
                     "backup-manifest line " + std::to_string(line) + ": " + what);
}

// Splits a line at single spaces into exactly n fields (the last may not contain spaces either:
// log paths are runs/<safe name>/logs/output.log).
bool splitFields(std::string_view line, std::size_t n, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t start = 0;
    while (out.size() + 1 < n) {
        auto space = line.find(' ', start);
        if (space == std::string_view::npos) {
            return false;
        }
        out.push_back(line.substr(start, space - start));
        start = space + 1;
    }
    out.push_back(line.substr(start));
    for (auto field : out) {
        if (field.empty() || field.find(' ') != std::string_view::npos) {
            return false;
        }
    }
    return true;
}

template <typename T>
bool parseNumber(std::string_view text, T& value) {
    if (text.empty() || (text.size() > 1 && text[0] == '0') || text[0] == '-' || text[0] == '+') {
        return false;
    }
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && ptr == text.data() + text.size();
}

bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

}  // namespace

bool BackupManifest::isValidLogPath(std::string_view path) {
    constexpr std::string_view prefix = "runs/";
    constexpr std::string_view suffix = "/logs/output.log";
    if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
        path.substr(path.size() - suffix.size()) != suffix) {
        return false;
    }
    std::string_view name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    return name != "." && name != ".." && std::all_of(name.begin(), name.end(), isNameChar);
}

std::uint64_t BackupManifest::blobBytes() const {
    std::uint64_t sum = 0;
    for (const auto& b : blobs) {
        sum += b.size;
    }
    return sum;
}

std::string BackupManifest::text() const {
    auto sortedBlobs = blobs;
    std::sort(sortedBlobs.begin(), sortedBlobs.end(),
              [](const BackupBlob& a, const BackupBlob& b) { return a.sha256 < b.sha256; });
    auto sortedLogs = logs;
    std::sort(sortedLogs.begin(), sortedLogs.end(),
              [](const BackupLog& a, const BackupLog& b) { return a.path < b.path; });
    std::string out;
    out.reserve(64 + sortedBlobs.size() * 90 + sortedLogs.size() * 140);
    out += kHeader;
    out += "\ncreated " + std::to_string(createdMs) + "\n";
    out += "database " + databaseSha256 + " " + std::to_string(databaseSize) + "\n";
    for (const auto& b : sortedBlobs) {
        out += "blob " + b.sha256 + " " + std::to_string(b.size) + "\n";
    }
    for (const auto& l : sortedLogs) {
        out += "log " + l.sha256 + " " + std::to_string(l.size) + " " + std::to_string(l.mtimeNs) +
               " " + l.path + "\n";
    }
    out += std::string(kEnd) + Sha256::hashBuffer(out) + "\n";
    return out;
}

Result<BackupManifest> BackupManifest::parse(std::string_view text) {
    BackupManifest m;
    std::vector<std::string_view> f;
    std::size_t pos = 0;
    std::size_t lineNo = 0;
    bool ended = false;
    bool haveCreated = false;
    bool haveDatabase = false;
    while (pos < text.size()) {
        ++lineNo;
        auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            return lineError(lineNo, "the text does not end with a newline");
        }
        std::string_view line = text.substr(pos, nl - pos);
        if (ended) {
            return lineError(lineNo, "text after the end line");
        }
        if (lineNo == 1) {
            if (line != kHeader) {
                return lineError(lineNo, "expected '" + std::string(kHeader) + "'");
            }
        } else if (line.substr(0, kEnd.size()) == kEnd) {
            std::string_view sum = line.substr(kEnd.size());
            if (!Sha256::isValidHex(sum)) {
                return lineError(lineNo, "the end line's hash is not 64 lowercase hex digits");
            }
            if (Sha256::hashBuffer(text.substr(0, pos)) != sum) {
                return lineError(lineNo,
                                 "the end line's hash does not match: the file is "
                                 "damaged");
            }
            ended = true;
        } else if (line.substr(0, 8) == "created ") {
            if (haveCreated || lineNo != 2 || !parseNumber(line.substr(8), m.createdMs)) {
                return lineError(lineNo, "expected 'created <ms>' once, as the second line");
            }
            haveCreated = true;
        } else if (line.substr(0, 9) == "database ") {
            if (haveDatabase || !splitFields(line, 3, f) || !Sha256::isValidHex(f[1]) ||
                !parseNumber(f[2], m.databaseSize)) {
                return lineError(lineNo, "expected 'database <sha256> <size>' once");
            }
            m.databaseSha256 = std::string(f[1]);
            haveDatabase = true;
        } else if (line.substr(0, 5) == "blob ") {
            BackupBlob b;
            if (!splitFields(line, 3, f) || !Sha256::isValidHex(f[1]) ||
                !parseNumber(f[2], b.size)) {
                return lineError(lineNo, "expected 'blob <sha256> <size>'");
            }
            b.sha256 = std::string(f[1]);
            if (!m.logs.empty()) {
                return lineError(lineNo, "blob lines must come before log lines");
            }
            if (!m.blobs.empty() && !(m.blobs.back().sha256 < b.sha256)) {
                return lineError(lineNo, m.blobs.back().sha256 == b.sha256
                                             ? "repeated blob"
                                             : "blobs are not sorted by hash");
            }
            m.blobs.push_back(std::move(b));
        } else if (line.substr(0, 4) == "log ") {
            BackupLog l;
            if (!splitFields(line, 5, f) || !Sha256::isValidHex(f[1]) ||
                !parseNumber(f[2], l.size) || !parseNumber(f[3], l.mtimeNs) ||
                !isValidLogPath(f[4])) {
                return lineError(lineNo,
                                 "expected 'log <sha256> <size> <mtime ns> "
                                 "runs/<dir>/logs/output.log'");
            }
            l.sha256 = std::string(f[1]);
            l.path = std::string(f[4]);
            if (!m.logs.empty() && !(m.logs.back().path < l.path)) {
                return lineError(lineNo, m.logs.back().path == l.path
                                             ? "repeated log"
                                             : "logs are not sorted by path");
            }
            m.logs.push_back(std::move(l));
        } else {
            return lineError(lineNo, "unknown line '" + std::string(line.substr(0, 40)) + "'");
        }
        if (lineNo == 3 && !haveDatabase) {
            return lineError(lineNo, "expected 'database <sha256> <size>' as the third line");
        }
        pos = nl + 1;
    }
    if (!ended || !haveCreated || !haveDatabase) {
        return lineError(lineNo + 1, "the end line is missing: the file is incomplete");
    }
    return m;
}

}  // namespace fetchml::ctl
