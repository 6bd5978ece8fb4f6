#include "IdMapRequest.hpp"

#include <charconv>
#include <limits>

namespace fetchml {

namespace {

constexpr std::uint64_t kIdLimit = std::numeric_limits<std::uint32_t>::max();  // not an id

Result<std::uint32_t> parseNumber(const std::string& text, std::size_t position, const char* what) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return makeError(ErrorCode::InvalidArgument, "argument " + std::to_string(position) + " (" +
                                                         what + "): '" + text +
                                                         "' is not a number from 0 to 4294967294");
    }
    if (value == kIdLimit) {
        return makeError(ErrorCode::InvalidArgument, "argument " + std::to_string(position) + " (" +
                                                         what + "): 4294967295 is not a valid id");
    }
    return value;
}

bool overlaps(std::uint64_t a, std::uint64_t aCount, std::uint64_t b, std::uint64_t bCount) {
    return a < b + bCount && b < a + aCount;
}

}  // namespace

const char* idKindName(IdKind kind) {
    return kind == IdKind::User ? "uid" : "gid";
}

const char* idKindTool(IdKind kind) {
    return kind == IdKind::User ? "newuidmap" : "newgidmap";
}

Result<IdMapRequest> parseIdMapArguments(IdKind kind, const std::vector<std::string>& args) {
    if (args.empty()) {
        return makeError(ErrorCode::InvalidArgument,
                         "missing arguments: expected PID INSIDE OUTSIDE COUNT ...");
    }
    if (args.size() == 1 || (args.size() - 1) % 3 != 0) {
        return makeError(
            ErrorCode::InvalidArgument,
            "after PID the arguments must come in threes (INSIDE OUTSIDE COUNT), got " +
                std::to_string(args.size() - 1));
    }
    if ((args.size() - 1) / 3 > kMaxMappings) {
        return makeError(ErrorCode::InvalidArgument,
                         "too many mappings: at most " + std::to_string(kMaxMappings));
    }
    IdMapRequest request;
    request.kind = kind;
    auto pid = parseNumber(args[0], 1, "PID");
    if (!pid) {
        return pid.error();
    }
    if (*pid < 2 || *pid > static_cast<std::uint32_t>(std::numeric_limits<pid_t>::max())) {
        return makeError(ErrorCode::InvalidArgument,
                         "argument 1 (PID): '" + args[0] + "' is not the pid of a user process");
    }
    request.pid = static_cast<pid_t>(*pid);
    for (std::size_t i = 1; i < args.size(); i += 3) {
        auto inside = parseNumber(args[i], i + 1, "INSIDE");
        if (!inside) {
            return inside.error();
        }
        auto outside = parseNumber(args[i + 1], i + 2, "OUTSIDE");
        if (!outside) {
            return outside.error();
        }
        auto count = parseNumber(args[i + 2], i + 3, "COUNT");
        if (!count) {
            return count.error();
        }
        if (*count == 0) {
            return makeError(ErrorCode::InvalidArgument,
                             "argument " + std::to_string(i + 3) + " (COUNT): must be at least 1");
        }
        if (std::uint64_t{*inside} + *count > kIdLimit ||
            std::uint64_t{*outside} + *count > kIdLimit) {
            return makeError(ErrorCode::InvalidArgument,
                             "arguments " + std::to_string(i + 1) + "-" + std::to_string(i + 3) +
                                 ": the range goes past the largest id 4294967294");
        }
        IdMapping m{*inside, *outside, *count};
        for (const auto& other : request.mappings) {
            if (overlaps(m.inside, m.count, other.inside, other.count) ||
                overlaps(m.outside, m.count, other.outside, other.count)) {
                return makeError(ErrorCode::InvalidArgument, "arguments " + std::to_string(i + 1) +
                                                                 "-" + std::to_string(i + 3) +
                                                                 ": overlap an earlier mapping");
            }
        }
        request.mappings.push_back(m);
    }
    return request;
}

Result<IdMapRequest> parseIdMapRequestLine(std::string_view line) {
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    if (line.size() > kMaxLineBytes) {
        return makeError(ErrorCode::InvalidArgument,
                         "request line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    std::vector<std::string> words;
    std::size_t pos = 0;
    while (pos < line.size()) {
        auto end = line.find(' ', pos);
        if (end == std::string_view::npos) {
            end = line.size();
        }
        if (end == pos) {
            return makeError(ErrorCode::InvalidArgument,
                             "request line: empty word at byte " + std::to_string(pos + 1));
        }
        words.emplace_back(line.substr(pos, end - pos));
        pos = end + 1;
    }
    if (words.empty() || (words[0] != "uid" && words[0] != "gid")) {
        return makeError(ErrorCode::InvalidArgument, "request line must start with 'uid' or 'gid'");
    }
    IdKind kind = words[0] == "uid" ? IdKind::User : IdKind::Group;
    words.erase(words.begin());
    return parseIdMapArguments(kind, words);
}

std::string formatIdMapRequestLine(const IdMapRequest& request) {
    std::string line = idKindName(request.kind);
    line += ' ' + std::to_string(request.pid);
    for (const auto& m : request.mappings) {
        line += ' ' + std::to_string(m.inside) + ' ' + std::to_string(m.outside) + ' ' +
                std::to_string(m.count);
    }
    return line + '\n';
}

std::string formatIdMapFile(const std::vector<IdMapping>& mappings) {
    std::string content;
    for (const auto& m : mappings) {
        content += std::to_string(m.inside) + ' ' + std::to_string(m.outside) + ' ' +
                   std::to_string(m.count) + '\n';
    }
    return content;
}

}  // namespace fetchml
