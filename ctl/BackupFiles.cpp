#include "BackupFiles.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

Error ioError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool isHex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

Result<void> writeAll(int fd, const char* data, std::size_t size, const std::string& path) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ioError("writing " + path);
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace

Result<std::map<std::string, std::uint64_t>> listStoreBlobs(const std::string& storeRoot) {
    std::map<std::string, std::uint64_t> blobs;
    const std::string objects = storeRoot + "/objects/sha256";
    DirPtr top(::opendir(objects.c_str()));
    if (!top) {
        if (errno == ENOENT) {
            return blobs;
        }
        return ioError("listing " + objects);
    }
    std::vector<std::string> fanouts;
    while (dirent* e = ::readdir(top.get())) {
        std::string_view name = e->d_name;
        if (name.size() == 2 && isHex(name)) {
            fanouts.emplace_back(name);
        }
    }
    for (const auto& fanout : fanouts) {
        const std::string dir = objects + "/" + fanout;
        DirPtr d(::opendir(dir.c_str()));
        if (!d) {
            if (errno == ENOENT || errno == ENOTDIR) {
                continue;
            }
            return ioError("listing " + dir);
        }
        const int dfd = ::dirfd(d.get());
        while (dirent* e = ::readdir(d.get())) {
            std::string hash = fanout + e->d_name;
            if (!Sha256::isValidHex(hash)) {
                continue;
            }
            struct stat st {};
            if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) {
                    continue;  // removed since it was listed
                }
                return ioError("stat of " + dir + "/" + e->d_name);
            }
            if (S_ISREG(st.st_mode)) {
                blobs.emplace(std::move(hash), static_cast<std::uint64_t>(st.st_size));
            }
        }
    }
    return blobs;
}

Result<HashedCopy> copyHashed(int srcFd, const std::string& srcName, const std::string& destPath,
                              mode_t mode) {
    UniqueFd out(::open(destPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!out) {
        return ioError("creating " + destPath);
    }
    bool done = false;
    struct Remover {
        const std::string& path;
        const bool& done;
        ~Remover() {
            if (!done) {
                ::unlink(path.c_str());
            }
        }
    } remover{destPath, done};

    Sha256 sha;
    HashedCopy copy;
    std::vector<char> buf(Sha256::kChunkBytes);
    for (;;) {
        ssize_t n = ::read(srcFd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ioError("reading " + srcName);
        }
        if (n == 0) {
            break;
        }
        sha.update(buf.data(), static_cast<std::size_t>(n));
        if (auto w = writeAll(out.get(), buf.data(), static_cast<std::size_t>(n), destPath); !w) {
            return w.error();
        }
        copy.size += static_cast<std::uint64_t>(n);
    }
    if (::fchmod(out.get(), mode) != 0 || ::fsync(out.get()) != 0) {
        return ioError("syncing " + destPath);
    }
    copy.sha256 = sha.finishHex();
    done = true;
    return copy;
}

Result<void> fsyncDir(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0) {
        return ioError("syncing directory " + dir);
    }
    return {};
}

Result<void> writeFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());  // left by an interrupted run
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) {
        return ioError("creating " + tmp);
    }
    auto written = writeAll(fd.get(), content.data(), content.size(), tmp);
    if (written && (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0)) {
        written = ioError("syncing " + tmp);
    }
    fd.reset();
    if (written && ::rename(tmp.c_str(), path.c_str()) != 0) {
        written = ioError("renaming " + tmp + " to " + path);
    }
    if (!written) {
        ::unlink(tmp.c_str());
        return written;
    }
    return fsyncDir(parentDir(path));
}

Result<void> makeDirs(const std::string& path, mode_t mode) {
    if (path.empty()) {
        return {};
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            return {};
        }
        errno = ENOTDIR;
        return ioError("creating directory " + path);
    }
    const std::string parent = parentDir(path);
    if (parent != path && parent != "." && parent != "/") {
        if (auto made = makeDirs(parent, mode); !made) {
            return made;
        }
    }
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        return ioError("creating directory " + path);
    }
    return {};
}

std::string parentDir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) {
        return ".";
    }
    if (slash == 0) {
        return "/";
    }
    return path.substr(0, slash);
}

Result<void> removeFile(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return ioError("removing " + path);
    }
    return {};
}

}  // namespace fetchml::ctl
