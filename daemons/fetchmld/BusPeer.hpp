#pragma once
// BusPeer: who is calling, asked of the bus itself. The message bus knows the Unix user of
// every connection (it read SO_PEERCRED when the client connected); asking it
// (org.freedesktop.DBus.GetConnectionUnixUser, D-Bus specification "Message Bus Messages")
// needs no access to the caller's /proc entry, which fetchmld's unit hides
// (ProtectProc=invisible): sd-bus's own sender credentials read /proc and fail there.
#include <sdbus-c++/sdbus-c++.h>
#include <sys/types.h>

#include <memory>
#include <string>

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

    /// The Unix uid of the connection with unique name `sender` (":1.42").
    /// Errors: Unauthenticated when the bus does not know it (it has gone) or does not answer
    /// within 5 s.
    Result<uid_t> unixUser(const std::string& sender);

private:
    std::unique_ptr<sdbus::IProxy> proxy_;
};

}  // namespace fetchml
