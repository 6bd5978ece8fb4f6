#pragma once
// Well-formed UTF-8 (RFC 3629 §4; Unicode 15, Table 3-7): no overlong forms, no surrogates,
// nothing above U+10FFFF.

#include <cstddef>
#include <string>
#include <string_view>

namespace fetchml {

/// One step of decoding at byte offset i of s (i < s.size()): `length` bytes are consumed;
/// `valid` says whether they are one well-formed character. An ill-formed sequence consumes
/// its maximal subpart (at least one byte), as Unicode's "U+FFFD substitution of maximal
/// subparts" practice asks.
struct Utf8Step {
    std::size_t length;
    bool valid;
};
Utf8Step utf8Step(std::string_view s, std::size_t i);

/// True when every byte of s belongs to a well-formed character.
bool isValidUtf8(std::string_view s);

/// s with every ill-formed maximal subpart replaced by U+FFFD (EF BF BD).
std::string sanitizeUtf8(std::string_view s);

}  // namespace fetchml
