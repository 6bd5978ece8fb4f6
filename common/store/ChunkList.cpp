#include "store/ChunkList.hpp"

#include <charconv>
#include <limits>
#include <optional>

#include "store/Sha256.hpp"

namespace fetchml {

namespace {

Error invalid(std::string what) {
    return makeError(ErrorCode::InvalidArgument, std::move(what));
}

// A decimal number as the text forms write it: digits only, no sign, no leading zero (and
// "0" itself only when zeroOk). nullopt otherwise, or when it does not fit 64 bits.
std::optional<std::uint64_t> decimal(std::string_view digits, bool zeroOk) {
    if (digits.empty() || (digits[0] == '0' && !(zeroOk && digits.size() == 1))) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return value;
}

// One chunk-list line "<sha256> <size>"; the error message says what is wrong, without the
// line number.
Result<ChunkRef> parseChunkLine(std::string_view line) {
    if (line.size() < Sha256::kHexDigits + 2 || line[Sha256::kHexDigits] != ' ') {
        return invalid("expected '<sha256> <size>'");
    }
    std::string_view hash = line.substr(0, Sha256::kHexDigits);
    if (!Sha256::isValidHex(hash)) {
        return invalid("'" + std::string(hash) + "' is not a lowercase hex SHA-256");
    }
    std::string_view digits = line.substr(Sha256::kHexDigits + 1);
    auto size = decimal(digits, false);
    if (!size) {
        return invalid("size '" + std::string(digits.substr(0, 24)) +
                       "' is not a positive decimal number");
    }
    if (*size > kMaxListedChunkBytes) {
        return invalid("chunk of " + std::to_string(*size) + " bytes is larger than " +
                       std::to_string(kMaxListedChunkBytes));
    }
    return ChunkRef{std::string(hash), static_cast<std::uint32_t>(*size)};
}

// One base range line "= <offset> <length>", without its "= ".
Result<FilePart> parseRangeLine(std::string_view rest) {
    std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) {
        return invalid("expected '= <offset> <length>'");
    }
    std::string_view offsetText = rest.substr(0, space);
    std::string_view lengthText = rest.substr(space + 1);
    auto offset = decimal(offsetText, true);
    if (!offset) {
        return invalid("offset '" + std::string(offsetText.substr(0, 24)) +
                       "' is not a decimal number");
    }
    if (lengthText == "0") {
        return invalid("a base range of 0 bytes");
    }
    auto length = decimal(lengthText, false);
    if (!length) {
        return invalid("length '" + std::string(lengthText.substr(0, 24)) +
                       "' is not a positive decimal number");
    }
    if (*length > std::numeric_limits<std::uint64_t>::max() - *offset) {
        return invalid("base range " + std::to_string(*offset) + " + " + std::to_string(*length) +
                       " overflows 64 bits");
    }
    return FilePart{"", *length, *offset};
}

// Calls line(text of the line without its newline) for each line; stops at the first error,
// which is prefixed "line N: ".
template <typename F>
Result<void> forEachLine(std::string_view text, F&& line) {
    std::size_t lineNo = 0;
    while (!text.empty()) {
        ++lineNo;
        std::size_t nl = text.find('\n');
        Result<void> r = nl == std::string_view::npos
                             ? Result<void>(invalid("no newline at the end"))
                             : line(text.substr(0, nl));
        if (!r) {
            return invalid("line " + std::to_string(lineNo) + ": " + r.error().message);
        }
        text.remove_prefix(nl + 1);
    }
    return {};
}

}  // namespace

std::string formatChunkList(const std::vector<Chunk>& chunks) {
    std::string out;
    out.reserve(chunks.size() * 74);
    for (const auto& c : chunks) {
        out += c.sha256;
        out += ' ';
        out += std::to_string(c.size);
        out += '\n';
    }
    return out;
}

Result<std::vector<ChunkRef>> parseChunkList(std::string_view text) {
    std::vector<ChunkRef> out;
    auto parsed = forEachLine(text, [&](std::string_view line) -> Result<void> {
        auto chunk = parseChunkLine(line);
        if (!chunk) {
            return chunk.error();
        }
        out.push_back(std::move(*chunk));
        return {};
    });
    if (!parsed) {
        return parsed.error();
    }
    if (out.empty()) {
        return invalid("no chunks");
    }
    return out;
}

std::string formatFileParts(const std::vector<FilePart>& parts) {
    std::string out;
    out.reserve(parts.size() * 74);
    for (const auto& p : parts) {
        if (p.fromBase()) {
            out += "= ";
            out += std::to_string(p.baseOffset);
        } else {
            out += p.sha256;
        }
        out += ' ';
        out += std::to_string(p.size);
        out += '\n';
    }
    return out;
}

Result<std::vector<FilePart>> parseFileParts(std::string_view text) {
    std::vector<FilePart> out;
    auto parsed = forEachLine(text, [&](std::string_view line) -> Result<void> {
        if (line.starts_with("= ")) {
            auto range = parseRangeLine(line.substr(2));
            if (!range) {
                return range.error();
            }
            out.push_back(std::move(*range));
            return {};
        }
        if (line.size() < Sha256::kHexDigits + 2 || line[Sha256::kHexDigits] != ' ') {
            return invalid("expected '<sha256> <size>' or '= <offset> <length>'");
        }
        auto chunk = parseChunkLine(line);
        if (!chunk) {
            return chunk.error();
        }
        out.push_back(FilePart{std::move(chunk->sha256), chunk->size, 0});
        return {};
    });
    if (!parsed) {
        return parsed.error();
    }
    if (out.empty()) {
        return invalid("no chunks");
    }
    return out;
}

}  // namespace fetchml
