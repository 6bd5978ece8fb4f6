#include "ChunkedFiles.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

struct ChunkedFiles::Source {
    UniqueFd fd;
    std::uint64_t offset = 0;  ///< where the part starts in fd
    bool fromBlob = false;     ///< a chunk blob (else a range of a stored file or of the base)
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

std::string lineName(std::size_t index) {
    return "chunks: line " + std::to_string(index + 1);
}

// "A..B" for the bytes [offset, offset + size), also when the end does not fit 64 bits.
std::string byteRange(std::uint64_t offset, std::uint64_t size) {
    if (size > std::numeric_limits<std::uint64_t>::max() - offset) {
        return std::to_string(offset) + "..(+" + std::to_string(size) + ")";
    }
    return std::to_string(offset) + ".." + std::to_string(offset + size);
}

}  // namespace

Result<std::vector<std::string>> ChunkedFiles::missingBases(const std::vector<std::string>& bases) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& base : bases) {
        if (!Sha256::isValidHex(base)) {
            return makeError(ErrorCode::InvalidArgument,
                             "bases: '" + base.substr(0, 80) + "' is not a SHA-256 hex digest");
        }
        // Retained as in missing(): the client will name it in PutChunkedFile.
        if (seen.insert(base).second && !store_.retain(base)) {
            out.push_back(base);
        }
    }
    return out;
}

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

Result<ChunkedFiles::Source> ChunkedFiles::locate(const FilePart& part, std::size_t index) {
    auto sizeMismatch = [&](std::uint64_t actual) {
        return makeError(ErrorCode::InvalidArgument,
                         chunkName(index, part.sha256) + " is " + std::to_string(actual) +
                             " bytes, the list says " + std::to_string(part.size));
    };
    if (store_.has(part.sha256)) {
        auto size = store_.size(part.sha256);
        if (!size) {
            return size.error();
        }
        if (*size != part.size) {
            return sizeMismatch(*size);
        }
        auto fd = store_.open(part.sha256);
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
    auto rows = (*stmt)->bind(1, part.sha256).forEachRow([&](const Statement& row) {
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
                         chunkName(index, part.sha256) +
                             " is neither stored nor part of a stored file (send it with "
                             "PutBlobs first)");
    }
    if (recordedSize != part.size) {
        return sizeMismatch(recordedSize);
    }
    auto fd = store_.open(file);
    if (!fd) {
        return fd.error();
    }
    return Source{std::move(*fd), offset, false};
}

Result<void> ChunkedFiles::checkStoredRanges(const std::string& fileSha256,
                                             const std::vector<FilePart>& parts) {
    auto fd = store_.open(fileSha256);
    if (!fd) {
        return fd.error();
    }
    std::string buf(kMaxListedChunkBytes, '\0');
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const FilePart& part = parts[i];
        if (!part.fromBase()) {
            if (auto r = preadAll(fd->get(), buf.data(), part.size, offset, "blob " + fileSha256);
                !r) {
                return r;
            }
            std::string actual = Sha256::hashBuffer(std::string_view(buf.data(), part.size));
            if (actual != part.sha256) {
                return makeError(ErrorCode::InvalidArgument,
                                 chunkName(i, part.sha256) + ": bytes " +
                                     byteRange(offset, part.size) + " of " + fileSha256 +
                                     " hash to " + actual);
            }
        }
        offset += part.size;
    }
    return {};
}

Result<std::uint64_t> ChunkedFiles::record(const std::string& fileSha256,
                                           const std::vector<FilePart>& parts,
                                           const std::string& base) {
    struct Row {
        std::string chunk;
        std::uint64_t offset = 0;
        std::uint64_t size = 0;
    };
    std::uint64_t written = 0;
    auto done = db_.transaction([&]() -> Result<void> {
        // The base's recorded ranges, by offset: read once, however many ranges name the base
        // (one query per range would scan all of the base's rows each time).
        std::vector<Row> baseRows;
        if (!base.empty()) {
            auto rows = db_.prepare(
                "SELECT chunk, offset, size FROM file_chunks WHERE file = ? ORDER BY offset");
            if (!rows) {
                return rows.error();
            }
            auto read = (*rows)->bind(1, base).forEachRow([&](const Statement& row) {
                baseRows.push_back(Row{row.text(0), static_cast<std::uint64_t>(row.int64(1)),
                                       static_cast<std::uint64_t>(row.int64(2))});
            });
            if (!read) {
                return read;
            }
        }
        auto insert = db_.prepare(
            "INSERT OR IGNORE INTO file_chunks (chunk, file, offset, size) VALUES (?, ?, ?, ?)");
        if (!insert) {
            return insert.error();
        }
        auto add = [&](const std::string& chunk, std::uint64_t offset,
                       std::uint64_t size) -> Result<void> {
            auto run = (*insert)
                           ->reset()
                           .bind(1, chunk)
                           .bind(2, fileSha256)
                           .bind(3, static_cast<std::int64_t>(offset))
                           .bind(4, static_cast<std::int64_t>(size))
                           .run();
            if (run) {
                written += static_cast<std::uint64_t>(db_.changes());
            }
            return run;
        };
        std::uint64_t offset = 0;
        for (const auto& part : parts) {
            if (!part.fromBase()) {
                if (auto r = add(part.sha256, offset, part.size); !r) {
                    return r;
                }
            } else if (!base.empty()) {
                // A base row wholly inside the range is in the new file at the same distance
                // from the range's start: those bytes are the base's (the whole file was
                // verified), so they hash to its chunk.
                const std::uint64_t start = part.baseOffset;
                const std::uint64_t end = part.baseOffset + part.size;
                auto row =
                    std::lower_bound(baseRows.begin(), baseRows.end(), start,
                                     [](const Row& r, std::uint64_t at) { return r.offset < at; });
                for (; row != baseRows.end() && row->offset < end; ++row) {
                    if (row->size <= end - row->offset) {
                        if (auto r = add(row->chunk, row->offset - start + offset, row->size); !r) {
                            return r;
                        }
                    }
                }
            }
            offset += part.size;
        }
        return {};
    });
    if (!done) {
        return done.error();
    }
    return written;
}

Result<AssembleReport> ChunkedFiles::assemble(const std::string& fileSha256, std::uint64_t size,
                                              const std::vector<FilePart>& parts,
                                              const std::string& base) {
    if (!Sha256::isValidHex(fileSha256)) {
        return makeError(ErrorCode::InvalidArgument,
                         "hash: '" + fileSha256.substr(0, 80) + "' is not a SHA-256 hex digest");
    }
    if (!base.empty() && !Sha256::isValidHex(base)) {
        return makeError(ErrorCode::InvalidArgument,
                         "base: '" + base.substr(0, 80) + "' is not a SHA-256 hex digest");
    }
    if (parts.size() > kMaxChunks) {
        return makeError(ErrorCode::InvalidArgument,
                         "chunks: more than " + std::to_string(kMaxChunks) + " parts");
    }
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const FilePart& part = parts[i];
        if (part.size == 0) {
            return makeError(ErrorCode::InvalidArgument, lineName(i) + ": a part of 0 bytes");
        }
        if (part.fromBase() && base.empty()) {
            return makeError(ErrorCode::InvalidArgument,
                             lineName(i) + ": a base range needs \"base\"");
        }
        if (!part.fromBase() && part.size > kMaxListedChunkBytes) {
            return makeError(ErrorCode::InvalidArgument,
                             lineName(i) + ": chunk of " + std::to_string(part.size) +
                                 " bytes is larger than " + std::to_string(kMaxListedChunkBytes));
        }
        if (part.size > std::numeric_limits<std::uint64_t>::max() - sum) {
            return makeError(ErrorCode::InvalidArgument,
                             "chunks: sizes add up to more than 2^64 bytes, not the file's " +
                                 std::to_string(size));
        }
        sum += part.size;
    }
    if (sum != size) {
        return makeError(ErrorCode::InvalidArgument,
                         "chunks: sizes add up to " + std::to_string(sum) +
                             " bytes, not the file's " + std::to_string(size));
    }
    AssembleReport report;
    bool recordBase = false;
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
        if (auto r = checkStoredRanges(fileSha256, parts); !r) {
            return r.error();
        }
    } else {
        // The base and every blob part must be at hand before a byte is written; sizes and
        // ranges are checked here too.
        std::optional<UniqueFd> baseFd;
        bool anyRange =
            std::any_of(parts.begin(), parts.end(), [](const FilePart& p) { return p.fromBase(); });
        if (anyRange) {
            if (!store_.retain(base)) {
                return makeError(ErrorCode::NotFound, "base: blob " + base + " is not stored");
            }
            auto baseSize = store_.size(base);
            if (!baseSize) {
                return baseSize.error();
            }
            for (std::size_t i = 0; i < parts.size(); ++i) {
                const FilePart& part = parts[i];
                if (part.fromBase() &&
                    (part.size > *baseSize || part.baseOffset > *baseSize - part.size)) {
                    return makeError(
                        ErrorCode::InvalidArgument,
                        lineName(i) + ": bytes " + byteRange(part.baseOffset, part.size) +
                            " are outside the base's " + std::to_string(*baseSize) + " bytes");
                }
            }
            auto fd = store_.open(base);
            if (!fd) {
                return fd.error();
            }
            baseFd = std::move(*fd);
            recordBase = true;
        }
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (!parts[i].fromBase()) {
                auto source = locate(parts[i], i);
                if (!source) {
                    return source.error();
                }
            }
        }
        std::size_t index = 0;
        std::uint64_t within = 0;  // bytes of parts[index] already handed on
        std::optional<Source> current;
        ByteSource bytes = [&](char* buf, std::size_t max) -> Result<std::size_t> {
            while (index < parts.size() && within == parts[index].size) {
                ++index;
                within = 0;
                current.reset();
            }
            if (index == parts.size()) {
                return std::size_t{0};
            }
            const FilePart& part = parts[index];
            int fd = -1;
            std::uint64_t start = 0;
            std::string what;
            if (part.fromBase()) {
                if (within == 0) {
                    report.fromFiles += part.size;
                }
                fd = baseFd->get();
                start = part.baseOffset;
                what = "base " + base;
            } else {
                if (!current) {
                    auto source = locate(part, index);
                    if (!source) {
                        return source.error();
                    }
                    current = std::move(*source);
                    (current->fromBlob ? report.fromBlobs : report.fromFiles) += part.size;
                }
                fd = current->fd.get();
                start = current->offset;
                what = chunkName(index, part.sha256);
            }
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(max, part.size - within));
            if (auto r = preadAll(fd, buf, n, start + within, what); !r) {
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
    auto written = record(fileSha256, parts, recordBase ? base : std::string());
    if (!written) {
        return written.error();
    }
    report.chunksIndexed = *written;
    return report;
}

}  // namespace fetchml
