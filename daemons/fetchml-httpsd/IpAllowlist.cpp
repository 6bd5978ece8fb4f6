#include "IpAllowlist.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <optional>

namespace fetchml::edge {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

/// Parses an IPv4 or IPv6 address into IPv6 form; `isV4` tells which it was.
std::optional<Bytes> parseAddress(const std::string& text, bool& isV4) {
    Bytes out{};
    in_addr v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        const auto* b = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
        std::copy(b, b + 4, out.begin() + 12);
        isV4 = true;
        return out;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        const auto* b = reinterpret_cast<const std::uint8_t*>(&v6);
        std::copy(b, b + 16, out.begin());
        isV4 = false;
        return out;
    }
    return std::nullopt;
}

/// Whether the first `prefix` bits of a and b are equal.
bool samePrefix(const Bytes& a, const Bytes& b, unsigned prefix) {
    for (unsigned i = 0; i < 16 && prefix > 0; ++i) {
        unsigned bits = prefix >= 8 ? 8 : prefix;
        auto mask = static_cast<std::uint8_t>(0xff00u >> bits);
        if ((a[i] & mask) != (b[i] & mask)) {
            return false;
        }
        prefix -= bits;
    }
    return true;
}

Error entryError(const std::string& entry, const std::string& why) {
    return makeError(ErrorCode::InvalidArgument, "https.allowlist entry '" + entry + "': " + why);
}

}  // namespace

Result<IpAllowlist> IpAllowlist::parse(const std::vector<std::string>& entries) {
    if (entries.empty()) {
        return makeError(ErrorCode::InvalidArgument,
                         "https.allowlist: empty; no client could connect");
    }
    IpAllowlist list;
    for (const auto& entry : entries) {
        auto slash = entry.find('/');
        std::string address = entry.substr(0, slash);
        bool isV4 = false;
        auto bytes = parseAddress(address, isV4);
        if (!bytes) {
            return entryError(entry, "'" + address + "' is not an IPv4 or IPv6 address");
        }
        unsigned max = isV4 ? 32 : 128;
        unsigned prefix = max;
        if (slash != std::string::npos) {
            std::string len = entry.substr(slash + 1);
            auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
            if (len.empty() || ec != std::errc() || end != len.data() + len.size() ||
                prefix > max) {
                return entryError(entry, "prefix length must be 0.." + std::to_string(max));
            }
        }
        Block block{*bytes, isV4 ? prefix + 96 : prefix};
        // Host bits below the prefix must be zero (as Python's ipaddress strict mode).
        Bytes masked = block.bytes;
        for (unsigned bit = block.prefix; bit < 128; ++bit) {
            masked[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
        }
        if (masked != block.bytes) {
            return entryError(entry, "host bits are set below the prefix length");
        }
        list.blocks_.push_back(block);
    }
    return list;
}

bool IpAllowlist::allows(const std::string& address) const {
    bool isV4 = false;
    auto bytes = parseAddress(address.substr(0, address.find('%')), isV4);
    if (!bytes) {
        return false;
    }
    for (const auto& block : blocks_) {
        if (samePrefix(*bytes, block.bytes, block.prefix)) {
            return true;
        }
    }
    return false;
}

}  // namespace fetchml::edge
