#include "ChunkedFiles.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

struct ChunkedFiles::Source {
    UniqueFd fd;
    std::uint64_t offset = 0;  ///< where the chunk starts in fd
    bool fromBlob = false;     ///< a chunk blob (else a range of a stored file)
};

namespace {

std::string chunkName(std::size_t index, const std::string& sha) {
    return "chunk " + std::to_string(index + 1) + " (" + sha + ")";
}

Result<void> preadAll(int fd, char* buf, std::size_t size, std::uint64_t offset,
                      const std::string& what) {
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::pread(fd, buf + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return makeError(ErrorCode::Internal,
                             "reading " + what + ": " +
                                 (n == 0 ? std::string("unexpected end of file")
                                         : std::string(std::strerror(errno))));
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace

Result<std::vector<std::string>> ChunkedFiles::missing(const std::vector<std::string>& chunks) {
    auto stmt = db_.prepare("SELECT file FROM file_chunks WHERE chunk = ?");
    if (!stmt) {
        return stmt.error();
    }
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& chunk : chunks) {
        if (!Sha256::isValidHex(chunk)) {
            return makeError(ErrorCode::InvalidArgument,
                             "hashes: '" + chunk.substr(0, 80) + "' is not a SHA-256 hex digest");
        }
        // What is vouched for is retained (BlobStore::retain), so that garbage collection
        // does not remove it before the PutChunkedFile that relies on it.
        if (!seen.insert(chunk).second || store_.retain(chunk)) {
            continue;
        }
        bool found = false;
        auto rows = (*stmt)->reset().bind(1, chunk).forEachRow(
            [&](const Statement& row) { found = found || store_.retain(row.text(0)); });
        if (!rows) {
            return rows.error();
        }
        if (!found) {
            out.push_back(chunk);
        }
    }
    return out;
}

Result<ChunkedFiles::Source> ChunkedFiles::locate(const ChunkRef& chunk, std::size_t index) {
    auto sizeMismatch = [&](std::uint64_t actual) {
        return makeError(ErrorCode::InvalidArgument,
                         chunkName(index, chunk.sha256) + " is " + std::to_string(actual) +
                             " bytes, the list says " + std::to_string(chunk.size));
    };
    if (store_.has(chunk.sha256)) {
        auto size = store_.size(chunk.sha256);
        if (!size) {
            return size.error();
        }
        if (*size != chunk.size) {
            return sizeMismatch(*size);
        }
        auto fd = store_.open(chunk.sha256);
        if (!fd) {
            return fd.error();
        }
        return Source{std::move(*fd), 0, true};
    }
    auto stmt = db_.prepare("SELECT file, offset, size FROM file_chunks WHERE chunk = ?");
    if (!stmt) {
        return stmt.error();
    }
    std::string file;
    std::uint64_t offset = 0;
    std::uint64_t recordedSize = 0;
    auto rows = (*stmt)->bind(1, chunk.sha256).forEachRow([&](const Statement& row) {
        if (file.empty() && store_.has(row.text(0))) {
            file = row.text(0);
            offset = static_cast<std::uint64_t>(row.int64(1));
            recordedSize = static_cast<std::uint64_t>(row.int64(2));
        }
    });
    if (!rows) {
        return rows.error();
    }
    if (file.empty()) {
        return makeError(ErrorCode::NotFound,
                         chunkName(index, chunk.sha256) +
                             " is neither stored nor part of a stored file (send it with "
                             "PutBlobs first)");
    }
    if (recordedSize != chunk.size) {
        return sizeMismatch(recordedSize);
    }
    auto fd = store_.open(file);
    if (!fd) {
        return fd.error();
    }
    return Source{std::move(*fd), offset, false};
}

Result<void> ChunkedFiles::checkStoredRanges(const std::string& fileSha256,
                                             const std::vector<ChunkRef>& chunks) {
    auto fd = store_.open(fileSha256);
    if (!fd) {
        return fd.error();
    }
    std::string buf(kMaxListedChunkBytes, '\0');
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const ChunkRef& chunk = chunks[i];
        if (auto r = preadAll(fd->get(), buf.data(), chunk.size, offset, "blob " + fileSha256);
            !r) {
            return r;
        }
        std::string actual = Sha256::hashBuffer(std::string_view(buf.data(), chunk.size));
        if (actual != chunk.sha256) {
            return makeError(ErrorCode::InvalidArgument,
                             chunkName(i, chunk.sha256) + ": bytes " + std::to_string(offset) +
                                 ".." + std::to_string(offset + chunk.size) + " of " + fileSha256 +
                                 " hash to " + actual);
        }
        offset += chunk.size;
    }
    return {};
}

Result<std::uint64_t> ChunkedFiles::record(const std::string& fileSha256,
                                           const std::vector<ChunkRef>& chunks) {
    std::uint64_t written = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        auto stmt = db_.prepare(
            "INSERT OR IGNORE INTO file_chunks (chunk, file, offset, size) VALUES (?, ?, ?, ?)");
        if (!stmt) {
            return stmt.error();
        }
        std::uint64_t offset = 0;
        for (const auto& chunk : chunks) {
            auto run = (*stmt)
                           ->reset()
                           .bind(1, chunk.sha256)
                           .bind(2, fileSha256)
                           .bind(3, static_cast<std::int64_t>(offset))
                           .bind(4, static_cast<std::int64_t>(chunk.size))
                           .run();
            if (!run) {
                return run;
            }
            written += static_cast<std::uint64_t>(db_.changes());
            offset += chunk.size;
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return written;
}

Result<AssembleReport> ChunkedFiles::assemble(const std::string& fileSha256, std::uint64_t size,
                                              const std::vector<ChunkRef>& chunks) {
    if (!Sha256::isValidHex(fileSha256)) {
        return makeError(ErrorCode::InvalidArgument,
                         "hash: '" + fileSha256.substr(0, 80) + "' is not a SHA-256 hex digest");
    }
    if (chunks.size() > kMaxChunks) {
        return makeError(ErrorCode::InvalidArgument,
                         "chunks: more than " + std::to_string(kMaxChunks) + " chunks");
    }
    std::uint64_t sum = 0;
    for (const auto& chunk : chunks) {
        sum += chunk.size;
    }
    if (sum != size) {
        return makeError(ErrorCode::InvalidArgument,
                         "chunks: sizes add up to " + std::to_string(sum) +
                             " bytes, not the file's " + std::to_string(size));
    }
    AssembleReport report;
    if (store_.has(fileSha256)) {
        auto stored = store_.size(fileSha256);
        if (!stored) {
            return stored.error();
        }
        if (*stored != size) {
            return makeError(ErrorCode::InvalidArgument, "size: blob " + fileSha256 + " is " +
                                                             std::to_string(*stored) +
                                                             " bytes, not " + std::to_string(size));
        }
        if (auto r = checkStoredRanges(fileSha256, chunks); !r) {
            return r.error();
        }
    } else {
        // Every chunk must be at hand before a byte is written; sizes are checked here too.
        for (std::size_t i = 0; i < chunks.size(); ++i) {
            auto source = locate(chunks[i], i);
            if (!source) {
                return source.error();
            }
        }
        std::size_t index = 0;
        std::uint64_t within = 0;  // bytes of chunks[index] already handed on
        std::optional<Source> current;
        ByteSource bytes = [&](char* buf, std::size_t max) -> Result<std::size_t> {
            while (index < chunks.size() && within == chunks[index].size) {
                ++index;
                within = 0;
                current.reset();
            }
            if (index == chunks.size()) {
                return std::size_t{0};
            }
            const ChunkRef& chunk = chunks[index];
            if (!current) {
                auto source = locate(chunk, index);
                if (!source) {
                    return source.error();
                }
                current = std::move(*source);
                (current->fromBlob ? report.fromBlobs : report.fromFiles) += chunk.size;
            }
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(max, chunk.size - within));
            if (auto r = preadAll(current->fd.get(), buf, n, current->offset + within,
                                  chunkName(index, chunk.sha256));
                !r) {
                return r.error();
            }
            within += n;
            return n;
        };
        auto put = store_.put(fileSha256, size, bytes);
        if (!put) {
            return put.error();
        }
        report.stored = *put;
    }
    auto written = record(fileSha256, chunks);
    if (!written) {
        return written.error();
    }
    report.chunksIndexed = *written;
    return report;
}

}  // namespace fetchml
