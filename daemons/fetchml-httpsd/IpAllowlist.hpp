#pragma once
// IpAllowlist: which client addresses may connect to fetchml-httpsd (https.allowlist). A list
// of CIDR blocks (RFC 4632 for IPv4, RFC 4291 section 2.3 for IPv6); a peer outside every
// block is refused before the TLS handshake. IPv4 blocks are kept as IPv4-mapped IPv6
// (::ffff:0:0/96, RFC 4291 section 2.5.5.2), so an IPv4 peer seen on an IPv6 socket matches
// them. Pure: no sockets, no logging.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml::edge {

/// A parsed allowlist. Cheap to copy.
class IpAllowlist {
public:
    /// Parses CIDR entries: "10.0.0.0/8", "fc00::/7", or a bare address (= /32 or /128).
    /// Errors: InvalidArgument "https.allowlist entry '<entry>': <why>" for a bad address, a
    /// prefix length out of range, host bits set below the prefix, or an empty list.
    static Result<IpAllowlist> parse(const std::vector<std::string>& entries);

    /// Whether `address` (textual IPv4 or IPv6 as inet_pton(3) reads it; an IPv6 zone
    /// suffix "%eth0" is ignored) lies in one of the blocks. An unparsable address: false.
    bool allows(const std::string& address) const;

private:
    struct Block {
        std::array<std::uint8_t, 16> bytes{};  ///< network address, IPv6 form
        unsigned prefix = 0;                   ///< 0..128, in IPv6 bits
    };
    std::vector<Block> blocks_;
};

}  // namespace fetchml::edge
