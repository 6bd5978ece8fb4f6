#pragma once
// UserNameCache: the user names of local uids (getpwuid_r(3)), each kept for a short time so
// that a client calling many times does not cost a read of the password database (with NSS
// files, /etc/passwd) per call. Only the name is kept, never what the user may do: roles of
// local users and polkit's answers are decided on every call (Authenticator).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace fetchml {

/// uid → user name, with a lifetime per entry.
class UserNameCache {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    /// The password database's name of a uid; nullopt when it has no entry.
    using Lookup = std::function<std::optional<std::string>(uid_t)>;

    /// How long a name is kept: a renamed or removed user is seen within this time.
    static constexpr std::chrono::seconds kDefaultLifetime{10};
    /// Most uids kept; past that, expired entries are dropped (all of them if none expired).
    static constexpr std::size_t kMaxEntries = 1024;

    /// `lookup` defaults to getpwuid_r, `clock` to std::chrono::steady_clock::now.
    explicit UserNameCache(std::chrono::steady_clock::duration lifetime = kDefaultLifetime,
                           Lookup lookup = &passwdName,
                           Clock clock = &std::chrono::steady_clock::now);

    /// The user name of uid, or "uid:<n>" when the password database has none (kept as long).
    std::string nameOf(uid_t uid);

    /// getpwuid_r(3): the name, or nullopt when there is no entry (or the lookup failed).
    static std::optional<std::string> passwdName(uid_t uid);

private:
    struct Entry {
        std::string name;
        std::chrono::steady_clock::time_point expires;
    };

    std::chrono::steady_clock::duration lifetime_;
    Lookup lookup_;
    Clock clock_;
    std::unordered_map<uid_t, Entry> entries_;
};

}  // namespace fetchml
