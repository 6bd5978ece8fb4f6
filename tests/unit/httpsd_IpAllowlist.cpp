#include <catch2/catch.hpp>

#include "fetchml-httpsd/IpAllowlist.hpp"

using namespace fetchml;
using namespace fetchml::edge;

namespace {

const std::vector<std::string> kDefault = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                           "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};

std::string errorOf(const std::vector<std::string>& entries) {
    auto r = IpAllowlist::parse(entries);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    return r.error().message;
}

}  // namespace

TEST_CASE("IpAllowlist: the default list", "[httpsd][allowlist]") {
    auto list = IpAllowlist::parse(kDefault);
    REQUIRE(list.ok());
    for (const char* in : {"127.0.0.1", "127.255.255.254", "::1", "10.1.2.3", "172.16.0.1",
                           "172.31.255.255", "192.168.1.10", "fc00::1", "fd12:3456::7",
                           "::ffff:127.0.0.1", "::ffff:192.168.0.5", "fe80::1%eth0"}) {
        INFO(in);
        if (std::string(in) == "fe80::1%eth0") {
            CHECK_FALSE(list->allows(in));  // link-local is not in the default list
        } else {
            CHECK(list->allows(in));
        }
    }
    for (const char* out :
         {"8.8.8.8", "172.15.255.255", "172.32.0.0", "192.169.0.1", "11.0.0.1", "::2", "fe00::1",
          "2001:db8::1", "::ffff:8.8.8.8", "", "not-an-address", "127.0.0.1:80"}) {
        INFO(out);
        CHECK_FALSE(list->allows(out));
    }
}

TEST_CASE("IpAllowlist: single addresses and edge prefixes", "[httpsd][allowlist]") {
    auto list = IpAllowlist::parse({"192.0.2.7", "2001:db8::5", "198.51.100.0/31"});
    REQUIRE(list.ok());
    CHECK(list->allows("192.0.2.7"));
    CHECK_FALSE(list->allows("192.0.2.8"));
    CHECK(list->allows("2001:db8::5"));
    CHECK_FALSE(list->allows("2001:db8::4"));
    CHECK(list->allows("198.51.100.1"));
    CHECK_FALSE(list->allows("198.51.100.2"));

    auto all4 = IpAllowlist::parse({"0.0.0.0/0"});
    REQUIRE(all4.ok());
    CHECK(all4->allows("203.0.113.9"));
    CHECK(all4->allows("::ffff:203.0.113.9"));
    CHECK_FALSE(all4->allows("2001:db8::1"));

    auto all = IpAllowlist::parse({"::/0"});
    REQUIRE(all.ok());
    CHECK(all->allows("2001:db8::1"));
    CHECK(all->allows("203.0.113.9"));
}

TEST_CASE("IpAllowlist: bad entries name the entry and the reason", "[httpsd][allowlist]") {
    CHECK(errorOf({}) == "https.allowlist: empty; no client could connect");
    CHECK(errorOf({"10.0.0.0/8", "10.0.0/8"}) ==
          "https.allowlist entry '10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address");
    CHECK(errorOf({"10.0.0.0/33"}) ==
          "https.allowlist entry '10.0.0.0/33': prefix length must "
          "be 0..32");
    CHECK(errorOf({"fc00::/129"}) ==
          "https.allowlist entry 'fc00::/129': prefix length must "
          "be 0..128");
    CHECK(errorOf({"10.0.0.0/"}) ==
          "https.allowlist entry '10.0.0.0/': prefix length must "
          "be 0..32");
    CHECK(errorOf({"10.0.0.0/-1"}) ==
          "https.allowlist entry '10.0.0.0/-1': prefix length must "
          "be 0..32");
    CHECK(errorOf({"10.0.0.0/8x"}) ==
          "https.allowlist entry '10.0.0.0/8x': prefix length must "
          "be 0..32");
    CHECK(errorOf({"10.0.0.1/8"}) ==
          "https.allowlist entry '10.0.0.1/8': host bits are set below the prefix length");
    CHECK(errorOf({"fc00::1/7"}) ==
          "https.allowlist entry 'fc00::1/7': host bits are set below the prefix length");
    CHECK(errorOf({"localhost"}) ==
          "https.allowlist entry 'localhost': 'localhost' is not an IPv4 or IPv6 address");
}
