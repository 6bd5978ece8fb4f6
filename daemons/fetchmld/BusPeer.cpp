#include "BusPeer.hpp"

#include <chrono>
#include <cstdint>

namespace fetchml {

BusPeer::BusPeer(sdbus::IConnection& connection)
    : proxy_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")) {}

BusPeer::~BusPeer() = default;

Result<uid_t> BusPeer::unixUser(const std::string& sender) {
    std::uint32_t uid = 0;
    try {
        proxy_->callMethod("GetConnectionUnixUser")
            .onInterface("org.freedesktop.DBus")
            .withTimeout(std::chrono::seconds(5))
            .withArguments(sender)
            .storeResultsTo(uid);
    } catch (const sdbus::Error& e) {
        return makeError(ErrorCode::Unauthenticated,
                         "the bus does not know the user of " + sender + ": " + e.getMessage());
    }
    return static_cast<uid_t>(uid);
}

}  // namespace fetchml
