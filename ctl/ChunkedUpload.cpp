#include "ChunkedUpload.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

Result<ChunkedUpload> chunkForUpload(const std::string& dir, const ManifestEntry& entry) {
    const std::string path = dir + "/" + entry.path;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        return makeError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "opening " + path + ": " + std::strerror(errno));
    }
    static const FastCdc cdc = *FastCdc::create(FastCdc::kFileLimits);
    auto file = chunkFd(fd.get(), cdc);
    if (!file) {
        return makeError(file.error().code, path + ": " + file.error().message);
    }
    if (file->size != entry.size || file->sha256 != entry.sha256) {
        return makeError(ErrorCode::InvalidArgument,
                         "file " + path + " changed since it was scanned: it is now " +
                             std::to_string(file->size) + " bytes hashing to " + file->sha256);
    }
    return ChunkedUpload{entry.path, std::move(*file)};
}

std::vector<PackBlob> missingChunkBlobs(const std::vector<ChunkedUpload>& uploads,
                                        const std::vector<std::string>& missing) {
    std::set<std::string> wanted(missing.begin(), missing.end());
    std::vector<PackBlob> blobs;
    for (const auto& upload : uploads) {
        for (const auto& chunk : upload.file.chunks) {
            if (wanted.erase(chunk.sha256) == 1) {
                blobs.push_back(
                    PackBlob{chunk.sha256, upload.path, chunk.size, chunk.offset, true});
            }
        }
    }
    return blobs;
}

}  // namespace fetchml::ctl
