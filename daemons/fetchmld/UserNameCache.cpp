#include "UserNameCache.hpp"

#include <pwd.h>

#include <vector>

namespace fetchml {

UserNameCache::UserNameCache(std::chrono::steady_clock::duration lifetime, Lookup lookup,
                             Clock clock)
    : lifetime_(lifetime), lookup_(std::move(lookup)), clock_(std::move(clock)) {}

std::optional<std::string> UserNameCache::passwdName(uid_t uid) {
    std::vector<char> buf(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
        return std::string(found->pw_name);
    }
    return std::nullopt;
}

std::string UserNameCache::nameOf(uid_t uid) {
    const auto now = clock_();
    if (auto it = entries_.find(uid); it != entries_.end() && now < it->second.expires) {
        return it->second.name;
    }
    auto found = lookup_(uid);
    std::string name = found ? *found : "uid:" + std::to_string(uid);
    if (entries_.size() >= kMaxEntries && entries_.count(uid) == 0) {
        std::erase_if(entries_, [&](const auto& e) { return !(now < e.second.expires); });
        if (entries_.size() >= kMaxEntries) {
            entries_.clear();
        }
    }
    entries_[uid] = Entry{name, now + lifetime_};
    return name;
}

}  // namespace fetchml
