#include "store/TreeIo.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

constexpr mode_t kDirMode = 0755;
constexpr mode_t kFileMode = 0444;
constexpr mode_t kExecMode = 0555;

Error ioError(ErrorCode code, const std::string& what) {
    return makeError(code, what + ": " + std::strerror(errno));
}

// Opens (creating if needed, mode 0755) the directory name below parent, never following a
// symbolic link.
Result<UniqueFd> openOrMakeDir(int parent, const std::string& name, const std::string& where) {
    bool created = ::mkdirat(parent, name.c_str(), kDirMode) == 0;
    if (!created && errno != EEXIST) {
        return ioError(ErrorCode::Internal, "creating directory " + where);
    }
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return ioError(ErrorCode::InvalidArgument, "opening directory " + where);
    }
    // mkdirat(2) applies the umask; the tree's modes must not depend on it.
    if (created && ::fchmod(fd.get(), kDirMode) != 0) {
        return ioError(ErrorCode::Internal, "chmod of " + where);
    }
    return fd;
}

Result<void> copyData(int from, int to, std::uint64_t size, const std::string& where) {
    std::uint64_t done = 0;
    bool kernelCopy = true;  // copy_file_range(2) may share extents (reflinks) on some fs
    std::vector<char> buf;
    while (done < size) {
        ssize_t n = -1;
        if (kernelCopy) {
            n = ::copy_file_range(from, nullptr, to, nullptr, size - done, 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                          errno == EOPNOTSUPP || errno == EPERM)) {
                kernelCopy = false;
                buf.resize(1u << 20);
                continue;
            }
        } else {
            n = ::read(from, buf.data(), buf.size());
            if (n > 0) {
                const char* p = buf.data();
                std::size_t left = static_cast<std::size_t>(n);
                while (left > 0) {
                    ssize_t w = ::write(to, p, left);
                    if (w < 0 && errno == EINTR) {
                        continue;
                    }
                    if (w < 0) {
                        return ioError(ErrorCode::Internal, "writing " + where);
                    }
                    p += w;
                    left -= static_cast<std::size_t>(w);
                }
            }
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return ioError(ErrorCode::Internal, "copying into " + where);
        }
        if (n == 0) {
            return makeError(ErrorCode::Internal, "blob for " + where + " ended early");
        }
        done += static_cast<std::uint64_t>(n);
    }
    return {};
}

Result<void> writeFile(int dirFd, const std::string& name, const ManifestEntry& entry,
                       const BlobStore& store, const std::string& where) {
    auto blob = store.open(entry.sha256);
    if (!blob) {
        if (blob.error().code == ErrorCode::NotFound) {
            return makeError(ErrorCode::NotFound, "blob " + entry.sha256 + " for " + entry.path +
                                                      " is not in the store");
        }
        return blob.error();
    }
    struct stat st {};
    if (::fstat(blob->get(), &st) != 0) {
        return ioError(ErrorCode::Internal, "stat of blob " + entry.sha256);
    }
    if (static_cast<std::uint64_t>(st.st_size) != entry.size) {
        return makeError(ErrorCode::InvalidArgument,
                         "blob " + entry.sha256 + " has " + std::to_string(st.st_size) +
                             " bytes but the manifest says " + std::to_string(entry.size) +
                             " for " + entry.path);
    }
    UniqueFd out(
        ::openat(dirFd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) {
        return ioError(errno == EEXIST ? ErrorCode::InvalidArgument : ErrorCode::Internal,
                       "creating " + where);
    }
    if (auto copied = copyData(blob->get(), out.get(), entry.size, where); !copied) {
        return copied;
    }
    mode_t mode = entry.mode == Manifest::kModeExecutable ? kExecMode : kFileMode;
    if (::fchmod(out.get(), mode) != 0) {
        return ioError(ErrorCode::Internal, "chmod of " + where);
    }
    return {};
}

}  // namespace

Result<void> TreeIo::materialize(const Manifest& manifest, const BlobStore& store,
                                 const std::string& dir) {
    if (::mkdir(dir.c_str(), kDirMode) == 0) {
        if (::chmod(dir.c_str(), kDirMode) != 0) {
            return ioError(ErrorCode::Internal, "chmod of " + dir);
        }
    } else if (errno != EEXIST) {
        return ioError(ErrorCode::Internal, "creating directory " + dir);
    }
    UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) {
        return ioError(ErrorCode::Internal, "opening directory " + dir);
    }
    // Entries are sorted, so files of one directory mostly come together: keep the last
    // directory open instead of walking from the root for every file.
    std::string cachedDir;
    UniqueFd cachedFd;
    for (const ManifestEntry& entry : manifest.entries()) {
        std::size_t slash = entry.path.rfind('/');
        std::string parent = slash == std::string::npos ? "" : entry.path.substr(0, slash);
        std::string name = entry.path.substr(slash == std::string::npos ? 0 : slash + 1);
        int dirFd = root.get();
        if (!parent.empty()) {
            if (parent != cachedDir || !cachedFd) {
                UniqueFd current;
                std::size_t start = 0;
                while (start <= parent.size()) {
                    std::size_t end = parent.find('/', start);
                    if (end == std::string::npos) {
                        end = parent.size();
                    }
                    int from = current ? current.get() : root.get();
                    auto sub = openOrMakeDir(from, parent.substr(start, end - start),
                                             dir + "/" + parent.substr(0, end));
                    if (!sub) {
                        return sub.error();
                    }
                    current = std::move(*sub);
                    start = end + 1;
                }
                cachedDir = parent;
                cachedFd = std::move(current);
            }
            dirFd = cachedFd.get();
        }
        if (auto written = writeFile(dirFd, name, entry, store, dir + "/" + entry.path); !written) {
            return written;
        }
    }
    return {};
}

Result<Manifest> TreeIo::ingest(const std::string& dir, BlobStore& store) {
    auto manifest = Manifest::scan(dir);
    if (!manifest) {
        return manifest.error();
    }
    for (const ManifestEntry& entry : manifest->entries()) {
        if (auto put = store.putFile(dir + "/" + entry.path, entry.sha256); !put) {
            return put.error();
        }
    }
    return manifest;
}

}  // namespace fetchml
