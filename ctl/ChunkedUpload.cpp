#include "ChunkedUpload.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_map>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

// SHA-256 of size bytes of fd at offset.
Result<std::string> hashRange(int fd, std::uint64_t offset, std::uint64_t size,
                              const std::string& path) {
    std::vector<char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(size, 1u << 20)));
    Sha256 hash;
    std::uint64_t done = 0;
    while (done < size) {
        std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return makeError(
                ErrorCode::InvalidArgument,
                "file " + path + " changed since it was scanned: " +
                    (n == 0 ? std::string("it is shorter") : std::string(std::strerror(errno))));
        }
        hash.update(buf.data(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
    }
    return hash.finishHex();
}

}  // namespace

std::vector<DeltaSpan> planDelta(const std::vector<Chunk>& fine, const FineChunks& base,
                                 std::uint64_t maxPiece) {
    struct Where {
        std::uint64_t offset;
        std::uint32_t size;
    };
    std::unordered_map<std::string, Where> known;  // first occurrence in base
    known.reserve(base.chunks.size());
    std::uint64_t at = 0;
    for (const auto& chunk : base.chunks) {
        known.try_emplace(chunk.sha256, Where{at, chunk.size});
        at += chunk.size;
    }
    std::vector<DeltaSpan> spans;
    for (const auto& chunk : fine) {
        auto it = known.find(chunk.sha256);
        if (it != known.end() && it->second.size == chunk.size) {
            if (!spans.empty() && spans.back().fromBase &&
                spans.back().baseOffset + spans.back().size == it->second.offset) {
                spans.back().size += chunk.size;
            } else {
                spans.push_back(DeltaSpan{true, chunk.offset, chunk.size, it->second.offset});
            }
        } else if (!spans.empty() && !spans.back().fromBase &&
                   spans.back().size + chunk.size <= maxPiece) {
            spans.back().size += chunk.size;
        } else {
            spans.push_back(DeltaSpan{false, chunk.offset, chunk.size, 0});
        }
    }
    return spans;
}

Result<ChunkedUpload> prepareChunkedUpload(const std::string& dir, const ManifestEntry& entry,
                                           const FineChunks* previous) {
    const std::string path = dir + "/" + entry.path;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        return makeError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "opening " + path + ": " + std::strerror(errno));
    }
    static const FastCdc coarse = *FastCdc::create(FastCdc::kFileLimits);
    static const FastCdc fine = *FastCdc::create(FastCdc::kDeltaLimits);
    std::vector<const FastCdc*> cdcs{&fine};
    if (previous == nullptr) {
        cdcs.push_back(&coarse);
    }
    auto levels = chunkFdLevels(fd.get(), cdcs);
    if (!levels) {
        return makeError(levels.error().code, path + ": " + levels.error().message);
    }
    const ChunkedFile& cut = levels->front();
    if (cut.size != entry.size || cut.sha256 != entry.sha256) {
        return makeError(ErrorCode::InvalidArgument,
                         "file " + path + " changed since it was scanned: it is now " +
                             std::to_string(cut.size) + " bytes hashing to " + cut.sha256);
    }
    ChunkedUpload upload;
    upload.path = entry.path;
    upload.sha256 = cut.sha256;
    upload.size = cut.size;
    upload.fine.sha256 = cut.sha256;
    upload.fine.size = cut.size;
    upload.fine.chunks.reserve(cut.chunks.size());
    for (const auto& chunk : cut.chunks) {
        upload.fine.chunks.push_back(ChunkRef{chunk.sha256, chunk.size});
    }
    std::set<std::string> listed;
    auto addBlob = [&](const std::string& sha, std::uint64_t offset, std::uint64_t size) {
        upload.parts.push_back(FilePart{sha, size, 0});
        if (listed.insert(sha).second) {
            upload.blobs.push_back(PackBlob{sha, entry.path, size, offset, true});
        }
    };
    if (previous == nullptr) {
        for (const auto& chunk : (*levels)[1].chunks) {
            addBlob(chunk.sha256, chunk.offset, chunk.size);
        }
        return upload;
    }
    upload.base = previous->sha256;
    for (const auto& span : planDelta(cut.chunks, *previous)) {
        if (span.fromBase) {
            upload.parts.push_back(FilePart{"", span.size, span.baseOffset});
            continue;
        }
        auto sha = hashRange(fd.get(), span.offset, span.size, path);
        if (!sha) {
            return sha.error();
        }
        addBlob(*sha, span.offset, span.size);
    }
    return upload;
}

std::vector<PackBlob> missingChunkBlobs(const std::vector<ChunkedUpload>& uploads,
                                        const std::vector<std::string>& missing) {
    std::set<std::string> wanted(missing.begin(), missing.end());
    std::vector<PackBlob> blobs;
    for (const auto& upload : uploads) {
        for (const auto& blob : upload.blobs) {
            if (wanted.erase(blob.sha256) == 1) {
                blobs.push_back(blob);
            }
        }
    }
    return blobs;
}

}  // namespace fetchml::ctl
