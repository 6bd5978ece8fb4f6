#include "core/Utf8.hpp"

namespace fetchml {

Utf8Step utf8Step(std::string_view s, std::size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
        return {1, true};
    }
    // Length and the allowed range of the second byte (Unicode Table 3-7).
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return {1, false};
    }
    for (std::size_t j = i + 1; j < i + len; ++j) {
        unsigned char min = j == i + 1 ? lo : 0x80;
        unsigned char max = j == i + 1 ? hi : 0xBF;
        if (j >= s.size() || static_cast<unsigned char>(s[j]) < min ||
            static_cast<unsigned char>(s[j]) > max) {
            return {j - i, false};
        }
    }
    return {len, true};
}

bool isValidUtf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto step = utf8Step(s, i);
        if (!step.valid) {
            return false;
        }
        i += step.length;
    }
    return true;
}

std::string sanitizeUtf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto step = utf8Step(s, i);
        if (step.valid) {
            out.append(s.substr(i, step.length));
        } else {
            out += "\xEF\xBF\xBD";
        }
        i += step.length;
    }
    return out;
}

}  // namespace fetchml
