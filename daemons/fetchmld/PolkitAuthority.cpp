#include "PolkitAuthority.hpp"

#include <chrono>
#include <map>

namespace fetchml {

namespace {

constexpr const char* kPolkitName = "org.freedesktop.PolicyKit1";
constexpr const char* kPolkitPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kPolkitInterface = "org.freedesktop.PolicyKit1.Authority";

using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
using AuthorizationResult = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

bool isAbsent(const sdbus::Error& e) {
    return e.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           e.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner";
}

}  // namespace

PolkitAuthority::PolkitAuthority(sdbus::IConnection& connection)
    : proxy_(sdbus::createProxy(connection, kPolkitName, kPolkitPath)) {}

PolkitAuthority::~PolkitAuthority() = default;

Result<PolkitAnswer> PolkitAuthority::check(const std::string& sender,
                                            const std::string& actionId) {
    Subject subject{std::string("system-bus-name"),
                    std::map<std::string, sdbus::Variant>{{"name", sdbus::Variant(sender)}}};
    std::map<std::string, std::string> details;
    std::uint32_t flags = 0;  // no user interaction
    AuthorizationResult result;
    try {
        proxy_->callMethod("CheckAuthorization")
            .onInterface(kPolkitInterface)
            .withTimeout(std::chrono::seconds(10))
            .withArguments(subject, actionId, details, flags, std::string())
            .storeResultsTo(result);
    } catch (const sdbus::Error& e) {
        if (isAbsent(e)) {
            return PolkitAnswer::Unavailable;
        }
        return makeError(ErrorCode::Internal,
                         "polkit could not check " + actionId + ": " + e.getMessage());
    }
    return std::get<0>(result) ? PolkitAnswer::Yes : PolkitAnswer::No;
}

}  // namespace fetchml
