#pragma once
// BusPeer: who is calling, asked of the bus itself. The message bus knows the Unix user of
// every connection (it read SO_PEERCRED when the client connected); asking it
// (org.freedesktop.DBus.GetConnectionUnixUser, D-Bus specification "Message Bus Messages")
// needs no access to the caller's /proc entry, which fetchmld's unit hides
// (ProtectProc=invisible): sd-bus's own sender credentials read /proc and fail there.
//
// The answer is kept per unique name: a bus never reuses a unique name (D-Bus specification,
// "Unique Connection Names") and a connection's uid never changes, so a kept uid cannot become
// wrong; it saves a blocking round trip to the bus on every call of a client that keeps its
// connection. At most kMaxCached names are kept, the oldest (most likely gone) dropped first.
#include <sdbus-c++/sdbus-c++.h>
#include <sys/types.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/Result.hpp"

namespace fetchml {

/// A client of the message bus driver (org.freedesktop.DBus) on fetchmld's connection.
class BusPeer {
public:
    /// Borrows connection (must outlive this object).
    explicit BusPeer(sdbus::IConnection& connection);
    ~BusPeer();
    BusPeer(const BusPeer&) = delete;
    BusPeer& operator=(const BusPeer&) = delete;

    /// Most unique names whose uid is kept.
    static constexpr std::size_t kMaxCached = 4096;

    /// The Unix uid of the connection with unique name `sender` (":1.42"), asked of the bus
    /// the first time only. Errors (not kept): Unauthenticated when the bus does not know it
    /// (it has gone) or does not answer within 5 s.
    Result<uid_t> unixUser(const std::string& sender);

private:
    std::unique_ptr<sdbus::IProxy> proxy_;
    std::unordered_map<std::string, uid_t> uids_;
    std::deque<std::string> order_;  ///< the names in uids_, oldest first
};

}  // namespace fetchml
