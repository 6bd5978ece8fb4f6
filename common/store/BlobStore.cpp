#include "store/BlobStore.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "store/Sha256.hpp"

namespace fetchml {

namespace {

constexpr mode_t kDirMode = 0750;
constexpr mode_t kBlobMode = 0444;

Error ioError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

Result<void> makeDir(const std::string& path, bool* created = nullptr) {
    if (::mkdir(path.c_str(), kDirMode) == 0) {
        if (created != nullptr) {
            *created = true;
        }
        return {};
    }
    if (errno == EEXIST) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
            return {};
        }
        errno = ENOTDIR;
    }
    return ioError("creating directory " + path);
}

Result<void> fsyncDir(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0) {
        return ioError("syncing directory " + path);
    }
    return {};
}

Result<void> writeAll(int fd, const char* data, std::size_t size, std::string_view hash) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ioError("blob " + std::string(hash) + ": writing temporary file");
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return {};
}

// Reads source (size bytes when sizeKnown, else to its end) through SHA-256, writing each chunk
// to fd when fd >= 0. InvalidArgument when the stream is short or hashes to something else.
Result<void> hashStream(std::string_view expected, std::uint64_t size, bool sizeKnown,
                        const ByteSource& source, int fd) {
    const std::string hex(expected);
    Sha256 sha;
    std::vector<char> buf(Sha256::kChunkBytes);
    std::uint64_t got = 0;
    while (!sizeKnown || got < size) {
        std::size_t want = buf.size();
        if (sizeKnown) {
            want = static_cast<std::size_t>(std::min<std::uint64_t>(want, size - got));
        }
        auto n = source(buf.data(), want);
        if (!n) {
            return n.error();
        }
        if (*n == 0) {
            break;
        }
        sha.update(buf.data(), *n);
        if (fd >= 0) {
            if (auto w = writeAll(fd, buf.data(), *n, hex); !w) {
                return w.error();
            }
        }
        got += *n;
    }
    if (sizeKnown && got < size) {
        return makeError(ErrorCode::InvalidArgument, "blob " + hex + ": truncated after " +
                                                         std::to_string(got) + " of " +
                                                         std::to_string(size) + " bytes");
    }
    std::string actual = sha.finishHex();
    if (actual != hex) {
        return makeError(ErrorCode::InvalidArgument,
                         "blob " + hex + ": content hashes to " + actual);
    }
    return {};
}

ByteSource fdSource(int fd) {
    return [fd](char* buf, std::size_t max) -> Result<std::size_t> {
        for (;;) {
            ssize_t n = ::read(fd, buf, max);
            if (n >= 0) {
                return static_cast<std::size_t>(n);
            }
            if (errno != EINTR) {
                return ioError("reading fd " + std::to_string(fd));
            }
        }
    };
}

// Removes a named temporary file on every exit path unless released.
class TmpFileGuard {
public:
    explicit TmpFileGuard(std::string path) : path_(std::move(path)) {}
    TmpFileGuard(const TmpFileGuard&) = delete;
    TmpFileGuard& operator=(const TmpFileGuard&) = delete;
    ~TmpFileGuard() {
        if (!path_.empty()) {
            ::unlink(path_.c_str());
        }
    }

private:
    std::string path_;
};

std::int64_t msOf(const struct timespec& t) {
    return std::int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1000000;
}

std::int64_t nowMs() {
    struct timespec t {};
    ::clock_gettime(CLOCK_REALTIME, &t);  // the clock file times are set from
    return msOf(t);
}

bool tmpfileWorks(const std::string& tmpDir) {
    UniqueFd fd(::open(tmpDir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    // Linking an O_TMPFILE file without CAP_DAC_READ_SEARCH goes through /proc (open(2)).
    return fd.valid() && ::access("/proc/self/fd", X_OK) == 0;
}

}  // namespace

Result<BlobStore> BlobStore::create(const std::string& root, bool allowTmpfile) {
    for (const std::string& dir :
         {root, root + "/objects", root + "/objects/sha256", root + "/tmp"}) {
        if (auto made = makeDir(dir); !made) {
            return made.error();
        }
    }
    bool useTmpfile = allowTmpfile && tmpfileWorks(root + "/tmp");
    return BlobStore(root, useTmpfile);
}

std::string BlobStore::path(std::string_view sha256) const {
    std::string out = root_;
    out += "/objects/sha256/";
    out += sha256.substr(0, 2);
    out += '/';
    out += sha256.substr(2);
    return out;
}

bool BlobStore::has(std::string_view sha256) const {
    if (!Sha256::isValidHex(sha256)) {
        return false;
    }
    struct stat st {};
    return ::stat(path(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool BlobStore::retain(std::string_view sha256) const {
    if (!Sha256::isValidHex(sha256)) {
        return false;
    }
    const std::string file = path(sha256);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return false;
    }
    if (refreshAfterMs_ > 0 && msOf(st.st_mtim) > nowMs() - refreshAfterMs_) {
        return true;
    }
    // Both times to now (times = nullptr): allowed to the owner although the file is 0444, and
    // fetchmld owns what it stored. Any other failure leaves an older time: the blob is there.
    if (::utimensat(AT_FDCWD, file.c_str(), nullptr, 0) != 0 && errno == ENOENT) {
        return false;
    }
    return true;
}

Result<std::optional<std::uint64_t>> BlobStore::removeIfOlder(std::string_view sha256,
                                                              std::int64_t cutoffMs, bool dryRun) {
    const std::string file = path(sha256);
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return std::optional<std::uint64_t>{};
        }
        return ioError("stat of blob " + std::string(sha256));
    }
    if (!S_ISREG(st.st_mode) || msOf(st.st_mtim) >= cutoffMs) {
        return std::optional<std::uint64_t>{};
    }
    if (!dryRun && ::unlink(file.c_str()) != 0) {
        if (errno == ENOENT) {
            return std::optional<std::uint64_t>{};
        }
        return ioError("removing blob " + std::string(sha256));
    }
    return std::optional<std::uint64_t>{static_cast<std::uint64_t>(st.st_size)};
}

Result<UniqueFd> BlobStore::open(std::string_view sha256) const {
    if (!Sha256::isValidHex(sha256)) {
        return makeError(ErrorCode::InvalidArgument, "malformed blob hash");
    }
    UniqueFd fd(::open(path(sha256).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            return makeError(ErrorCode::NotFound,
                             "blob " + std::string(sha256) + " is not in the store");
        }
        return ioError("opening blob " + std::string(sha256));
    }
    return fd;
}

Result<std::uint64_t> BlobStore::size(std::string_view sha256) const {
    auto fd = open(sha256);
    if (!fd) {
        return fd.error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) {
        return ioError("stat of blob " + std::string(sha256));
    }
    return static_cast<std::uint64_t>(st.st_size);
}

Result<bool> BlobStore::put(std::string_view expectedSha256, std::uint64_t size,
                            const ByteSource& source) {
    if (!Sha256::isValidHex(expectedSha256)) {
        return makeError(ErrorCode::InvalidArgument, "malformed blob hash");
    }
    if (has(expectedSha256)) {
        return verifyOnly(expectedSha256, size, true, source);
    }
    return putStream(expectedSha256, size, true, source);
}

Result<bool> BlobStore::putFd(int fd, std::string_view expectedSha256) {
    if (!Sha256::isValidHex(expectedSha256)) {
        return makeError(ErrorCode::InvalidArgument, "malformed blob hash");
    }
    if (has(expectedSha256)) {
        return verifyOnly(expectedSha256, 0, false, fdSource(fd));
    }
    return putStream(expectedSha256, 0, false, fdSource(fd));
}

Result<bool> BlobStore::putBuffer(std::string_view data, std::string_view expectedSha256) {
    std::size_t pos = 0;
    ByteSource source = [&](char* buf, std::size_t max) -> Result<std::size_t> {
        std::size_t n = std::min(max, data.size() - pos);
        std::memcpy(buf, data.data() + pos, n);
        pos += n;
        return n;
    };
    return put(expectedSha256, data.size(), source);
}

Result<bool> BlobStore::putFile(const std::string& filePath, std::string_view expectedSha256) {
    if (!Sha256::isValidHex(expectedSha256)) {
        return makeError(ErrorCode::InvalidArgument, "malformed blob hash for file " + filePath);
    }
    if (retain(expectedSha256)) {
        return false;
    }
    UniqueFd fd(::open(filePath.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        int err = errno;
        return makeError(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "opening " + filePath + ": " + std::strerror(err));
    }
    auto stored = putStream(expectedSha256, 0, false, fdSource(fd.get()));
    if (!stored && stored.error().code == ErrorCode::InvalidArgument) {
        return makeError(
            ErrorCode::InvalidArgument,
            "file " + filePath + " changed since it was scanned: " + stored.error().message);
    }
    return stored;
}

// Reads the blob through the hash only: it is already stored, but the stream must be consumed
// and a wrong blob must still be reported.
Result<bool> BlobStore::verifyOnly(std::string_view expected, std::uint64_t size, bool sizeKnown,
                                   const ByteSource& source) {
    if (auto r = hashStream(expected, size, sizeKnown, source, -1); !r) {
        return r.error();
    }
    retain(expected);  // the upload vouches for it again (see the header)
    return false;
}

Result<bool> BlobStore::putStream(std::string_view expected, std::uint64_t size, bool sizeKnown,
                                  const ByteSource& source) {
    const std::string hex(expected);
    const std::string tmp = tmpDir();
    UniqueFd fd;
    std::string tmpName;
    if (useTmpfile_) {
        fd.reset(::open(tmp.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    } else {
        tmpName = tmp + "/blob-XXXXXX";
        fd.reset(::mkostemp(tmpName.data(), O_CLOEXEC));
        if (!fd) {
            tmpName.clear();
        }
    }
    if (!fd) {
        return ioError("blob " + hex + ": creating temporary file in " + tmp);
    }
    TmpFileGuard guard(tmpName);

    if (auto r = hashStream(hex, size, sizeKnown, source, fd.get()); !r) {
        return r.error();
    }
    if (::fsync(fd.get()) != 0 || ::fchmod(fd.get(), kBlobMode) != 0) {
        return ioError("blob " + hex + ": syncing temporary file");
    }
    return publish(fd.get(), tmpName, hex);
}

// Gives the verified temporary file its name. link(2) never replaces an existing name, so of
// two writers of the same blob exactly one succeeds and the other sees EEXIST.
Result<bool> BlobStore::publish(int fd, const std::string& tmpName, std::string_view hash) const {
    const std::string hex(hash);
    const std::string fanout = root_ + "/objects/sha256/" + hex.substr(0, 2);
    bool createdFanout = false;
    if (auto made = makeDir(fanout, &createdFanout); !made) {
        return makeError(ErrorCode::Internal, "blob " + hex + ": " + made.error().message);
    }
    if (createdFanout) {
        if (auto synced = fsyncDir(root_ + "/objects/sha256"); !synced) {
            return synced.error();
        }
    }
    const std::string target = path(hex);
    int rc = 0;
    if (tmpName.empty()) {
        std::string procPath = "/proc/self/fd/" + std::to_string(fd);
        rc = ::linkat(AT_FDCWD, procPath.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW);
    } else {
        rc = ::link(tmpName.c_str(), target.c_str());
    }
    if (rc != 0) {
        if (errno == EEXIST) {
            retain(hex);  // another writer's copy: now vouched for by this one too
            return false;
        }
        return ioError("blob " + hex + ": linking into " + fanout);
    }
    if (auto synced = fsyncDir(fanout); !synced) {
        return synced.error();
    }
    return true;
}

}  // namespace fetchml
