#include "UploadSpool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace fetchml::edge {

std::string UploadSpool::directory(const std::string& configured) {
    if (!configured.empty()) {
        return configured;
    }
    const char* tmp = std::getenv("TMPDIR");
    if (tmp != nullptr && tmp[0] != '\0') {
        return tmp;
    }
    return "/var/tmp";
}

Result<UploadSpool> UploadSpool::open(const std::string& dir, std::uint64_t maxBytes) {
    UploadSpool spool;
    spool.maxBytes_ = maxBytes;
    spool.fd_.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!spool.fd_ && (errno == EOPNOTSUPP || errno == EISDIR)) {
        std::string pattern = dir + "/fetchml-upload-XXXXXX";
        std::vector<char> name(pattern.begin(), pattern.end());
        name.push_back('\0');
        spool.fd_.reset(::mkostemp(name.data(), O_CLOEXEC));
        if (spool.fd_) {
            ::unlink(name.data());
        }
    }
    if (!spool.fd_) {
        return makeError(ErrorCode::Internal,
                         "cannot create a spool file in " + dir + ": " + std::strerror(errno));
    }
    return spool;
}

Result<void> UploadSpool::write(const void* data, std::size_t size) {
    if (size > maxBytes_ - size_) {
        return makeError(ErrorCode::InvalidArgument,
                         "upload larger than " + std::to_string(maxBytes_) + " bytes");
    }
    const char* p = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::write(fd_.get(), p + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return makeError(ErrorCode::Internal,
                             std::string("cannot write the spool file: ") + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += size;
    return {};
}

Result<UniqueFd> UploadSpool::finish() {
    if (::lseek(fd_.get(), 0, SEEK_SET) != 0) {
        return makeError(ErrorCode::Internal,
                         std::string("cannot rewind the spool file: ") + std::strerror(errno));
    }
    return std::move(fd_);
}

}  // namespace fetchml::edge
