#include "store/ChunkList.hpp"

#include <charconv>

#include "store/Sha256.hpp"

namespace fetchml {

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
    std::size_t lineNo = 0;
    while (!text.empty()) {
        ++lineNo;
        auto bad = [&](const std::string& what) {
            return makeError(ErrorCode::InvalidArgument,
                             "line " + std::to_string(lineNo) + ": " + what);
        };
        std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) {
            return bad("no newline at the end");
        }
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.size() < Sha256::kHexDigits + 2 || line[Sha256::kHexDigits] != ' ') {
            return bad("expected '<sha256> <size>'");
        }
        std::string_view hash = line.substr(0, Sha256::kHexDigits);
        if (!Sha256::isValidHex(hash)) {
            return bad("'" + std::string(hash) + "' is not a lowercase hex SHA-256");
        }
        std::string_view digits = line.substr(Sha256::kHexDigits + 1);
        std::uint64_t size = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits[0] == '0' ||
            digits[0] == '+') {
            return bad("size '" + std::string(digits.substr(0, 24)) +
                       "' is not a positive decimal number");
        }
        if (size > kMaxListedChunkBytes) {
            return bad("chunk of " + std::to_string(size) + " bytes is larger than " +
                       std::to_string(kMaxListedChunkBytes));
        }
        out.push_back(ChunkRef{std::string(hash), static_cast<std::uint32_t>(size)});
    }
    if (out.empty()) {
        return makeError(ErrorCode::InvalidArgument, "no chunks");
    }
    return out;
}

}  // namespace fetchml
