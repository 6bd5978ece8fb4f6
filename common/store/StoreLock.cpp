#include "store/StoreLock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fetchml {

namespace {

Result<UniqueFd> openLockFile(const std::string& storeRoot, const std::string& path) {
    // Read-only is enough for flock(2). O_NONBLOCK: a FIFO put there cannot make the open
    // hang (it is refused below).
    UniqueFd fd(
        ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640));
    if (!fd) {
        return makeError(ErrorCode::Internal,
                         "cannot open the store's lock " + path + ": " + std::strerror(errno));
    }
    struct stat file {};
    if (::fstat(fd.get(), &file) != 0 || !S_ISREG(file.st_mode) || file.st_nlink != 1) {
        return makeError(ErrorCode::Internal,
                         "the store's lock " + path + " is not a regular file with one link");
    }
    // A backup runs as root and may create the file first: it belongs to the store's owner
    // (fetchmld's user) like everything in the store, mode 0640 whatever the umask.
    struct stat dir {};
    if (::geteuid() == 0 && ::stat(storeRoot.c_str(), &dir) == 0 &&
        (file.st_uid != dir.st_uid || file.st_gid != dir.st_gid ||
         (file.st_mode & 07777) != 0640)) {
        if (::fchown(fd.get(), dir.st_uid, dir.st_gid) != 0 || ::fchmod(fd.get(), 0640) != 0) {
            return makeError(ErrorCode::Internal,
                             "cannot give the store's lock " + path +
                                 " to the store's owner: " + std::strerror(errno));
        }
    }
    return fd;
}

int operationOf(StoreLock::Mode mode) {
    return mode == StoreLock::Mode::Shared ? LOCK_SH : LOCK_EX;
}

}  // namespace

Result<std::optional<StoreLock>> StoreLock::tryLock(const std::string& storeRoot, Mode mode) {
    const std::string path = pathOf(storeRoot);
    auto fd = openLockFile(storeRoot, path);
    if (!fd) {
        return fd.error();
    }
    if (::flock(fd->get(), operationOf(mode) | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            return std::optional<StoreLock>{};
        }
        return makeError(ErrorCode::Internal,
                         "cannot lock the store's lock " + path + ": " + std::strerror(errno));
    }
    return std::optional<StoreLock>{StoreLock(std::move(*fd))};
}

Result<StoreLock> StoreLock::lock(const std::string& storeRoot, Mode mode) {
    const std::string path = pathOf(storeRoot);
    auto fd = openLockFile(storeRoot, path);
    if (!fd) {
        return fd.error();
    }
    int rc;
    while ((rc = ::flock(fd->get(), operationOf(mode))) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        return makeError(ErrorCode::Internal,
                         "cannot lock the store's lock " + path + ": " + std::strerror(errno));
    }
    return StoreLock(std::move(*fd));
}

}  // namespace fetchml
