#include "store/BlobCursor.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "store/Sha256.hpp"

namespace fetchml {

Result<std::size_t> BlobCursor::next(std::vector<std::string>& out, std::size_t max) {
    std::size_t added = 0;
    while (added < max) {
        if (!dir_) {
            if (fanout_ >= 255) {
                break;
            }
            ++fanout_;
            char name[3];
            std::snprintf(name, sizeof name, "%02x", fanout_);
            prefix_ = name;
            dir_.reset(::opendir((objects_ + "/" + prefix_).c_str()));
            if (!dir_) {
                if (errno == ENOENT) {
                    continue;  // no blob of this prefix was ever stored
                }
                return makeError(ErrorCode::Internal, "reading " + objects_ + "/" + prefix_ + ": " +
                                                          std::strerror(errno));
            }
        }
        errno = 0;
        const struct dirent* entry = ::readdir(dir_.get());
        if (entry == nullptr) {
            if (errno != 0) {
                return makeError(ErrorCode::Internal, "reading " + objects_ + "/" + prefix_ + ": " +
                                                          std::strerror(errno));
            }
            dir_.reset();
            continue;
        }
        std::string hash = prefix_ + entry->d_name;
        if (Sha256::isValidHex(hash)) {
            out.push_back(std::move(hash));
            ++added;
        }
    }
    return added;
}

}  // namespace fetchml
