#include "BusPeer.hpp"

#include <chrono>
#include <cstdint>

namespace fetchml {

BusPeer::BusPeer(sdbus::IConnection& connection)
    : proxy_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")) {}

BusPeer::~BusPeer() = default;

Result<uid_t> BusPeer::unixUser(const std::string& sender) {
    if (auto it = uids_.find(sender); it != uids_.end()) {
        return it->second;
    }
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
    // Only unique names (":1.42") are kept: a well-known name can change hands.
    if (!sender.empty() && sender.front() == ':') {
        if (order_.size() >= kMaxCached) {
            uids_.erase(order_.front());
            order_.pop_front();
        }
        uids_.emplace(sender, static_cast<uid_t>(uid));
        order_.push_back(sender);
    }
    return static_cast<uid_t>(uid);
}

}  // namespace fetchml
