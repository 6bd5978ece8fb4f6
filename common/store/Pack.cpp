#include "store/Pack.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

constexpr std::size_t kChunk = 1u << 20;

Error ioError(ErrorCode code, const std::string& what) {
    return makeError(code, what + ": " + std::strerror(errno));
}

std::string headerFor(const std::string& hash, std::uint64_t size) {
    return hash + " " + std::to_string(size) + "\n";
}

Result<UniqueFd> openInput(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return ioError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                       "opening " + path);
    }
    return fd;
}

// Collects output into chunks of up to kChunk bytes so that many small files do not turn
// into many tiny sink calls.
class ChunkedSink {
public:
    explicit ChunkedSink(const PackWriter::Sink& sink) : sink_(sink) { buf_.reserve(kChunk); }

    Result<void> append(const char* data, std::size_t size) {
        while (size > 0) {
            std::size_t n = std::min(size, kChunk - buf_.size());
            buf_.append(data, n);
            data += n;
            size -= n;
            if (buf_.size() == kChunk) {
                if (auto r = flush(); !r) {
                    return r;
                }
            }
        }
        return {};
    }

    Result<void> flush() {
        if (buf_.empty()) {
            return {};
        }
        auto r = sink_(buf_);
        buf_.clear();
        return r;
    }

private:
    const PackWriter::Sink& sink_;
    std::string buf_;
};

// Buffered reader of a pack descriptor: pread(2) from offset 0, or read(2) for pipes.
class PackInput {
public:
    explicit PackInput(int fd) : fd_(fd), buf_(kChunk) {}

    std::uint64_t offset() const { return consumed_; }

    // Makes at least want bytes available unless the stream ends first; returns how many are.
    Result<std::size_t> fill(std::size_t want) {
        if (end_ - pos_ >= want) {
            return end_ - pos_;
        }
        std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
        end_ -= pos_;
        pos_ = 0;
        while (end_ < want && !eof_) {
            auto n = readMore();
            if (!n) {
                return n.error();
            }
            if (*n == 0) {
                eof_ = true;
            }
        }
        return end_;
    }

    const char* data() const { return buf_.data() + pos_; }
    void consume(std::size_t n) {
        pos_ += n;
        consumed_ += n;
    }

    // ByteSource semantics: copies up to max bytes, 0 at the end of the stream.
    Result<std::size_t> readSome(char* dst, std::size_t max) {
        if (pos_ == end_) {
            auto got = fill(1);
            if (!got) {
                return got.error();
            }
        }
        std::size_t n = std::min(max, end_ - pos_);
        std::memcpy(dst, buf_.data() + pos_, n);
        consume(n);
        return n;
    }

private:
    Result<std::size_t> readMore() {
        for (;;) {
            ssize_t n = usePread_ ? ::pread(fd_, buf_.data() + end_, buf_.size() - end_,
                                            static_cast<off_t>(readOffset_))
                                  : ::read(fd_, buf_.data() + end_, buf_.size() - end_);
            if (n < 0 && errno == ESPIPE && usePread_) {
                usePread_ = false;  // a pipe or socket: read from where it is
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return ioError(ErrorCode::Internal, "reading pack");
            }
            end_ += static_cast<std::size_t>(n);
            readOffset_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
    }

    int fd_;
    std::vector<char> buf_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    std::uint64_t readOffset_ = 0;
    std::uint64_t consumed_ = 0;
    bool usePread_ = true;
    bool eof_ = false;
};

struct PackHeader {
    std::string hash;
    std::uint64_t size = 0;
};

Result<PackHeader> parseHeader(std::string_view line) {
    auto bad = [](const char* what) { return makeError(ErrorCode::InvalidArgument, what); };
    if (line.size() < Sha256::kHexDigits + 2 || line[Sha256::kHexDigits] != ' ' ||
        !Sha256::isValidHex(line.substr(0, Sha256::kHexDigits))) {
        return bad("header must start with 64 lowercase hex digits and a space");
    }
    std::string_view size = line.substr(Sha256::kHexDigits + 1);
    PackHeader h;
    auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), h.size);
    if (ec != std::errc() || end != size.data() + size.size() ||
        (size.size() > 1 && size[0] == '0')) {
        return bad("size must be a decimal number without leading zeros");
    }
    h.hash = std::string(line.substr(0, Sha256::kHexDigits));
    return h;
}

}  // namespace

Result<std::uint64_t> PackWriter::packSize() {
    std::vector<std::uint64_t> sizes;
    sizes.reserve(items_.size());
    std::uint64_t total = 0;
    for (const auto& item : items_) {
        if (!Sha256::isValidHex(item.sha256)) {
            return makeError(ErrorCode::InvalidArgument, "malformed blob hash for " + item.path);
        }
        struct stat st {};
        if (::stat(item.path.c_str(), &st) != 0) {
            return ioError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                           "stat of " + item.path);
        }
        auto size = static_cast<std::uint64_t>(st.st_size);
        if (item.length) {
            if (item.offset > size || size - item.offset < *item.length) {
                return makeError(ErrorCode::InvalidArgument,
                                 "file " + item.path +
                                     " changed since it was scanned: " + std::to_string(size) +
                                     " bytes, too short for bytes " + std::to_string(item.offset) +
                                     ".." + std::to_string(item.offset + *item.length));
            }
            size = *item.length;
        }
        sizes.push_back(size);
        total += headerFor(item.sha256, size).size() + size;
    }
    sizes_ = std::move(sizes);
    return total;
}

Result<void> PackWriter::writeTo(int fd) {
    Sink sink = [fd](std::string_view bytes) -> Result<void> {
        while (!bytes.empty()) {
            ssize_t n = ::write(fd, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return ioError(ErrorCode::Internal, "writing pack");
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return {};
    };
    return writeTo(sink);
}

Result<void> PackWriter::writeTo(const Sink& sink) {
    if (!sizes_) {
        if (auto size = packSize(); !size) {
            return size.error();
        }
    }
    ChunkedSink out(sink);
    std::vector<char> buf(kChunk);
    std::uint64_t contentSent = 0;
    for (std::size_t i = 0; i < items_.size(); ++i) {
        const PackItem& item = items_[i];
        const std::uint64_t size = (*sizes_)[i];
        auto changed = [&](const std::string& what) {
            return makeError(ErrorCode::InvalidArgument,
                             "file " + item.path + " changed since it was scanned: " + what);
        };
        auto fd = openInput(item.path);
        if (!fd) {
            return fd.error();
        }
        std::string header = headerFor(item.sha256, size);
        if (auto r = out.append(header.data(), header.size()); !r) {
            return r;
        }
        Sha256 sha;
        std::uint64_t sent = 0;
        while (sent < size) {
            auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - sent));
            ssize_t n =
                ::pread(fd->get(), buf.data(), want, static_cast<off_t>(item.offset + sent));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return ioError(ErrorCode::Internal, "reading " + item.path);
            }
            if (n == 0) {
                return changed("it is shorter than " + std::to_string(size) + " bytes");
            }
            sha.update(buf.data(), static_cast<std::size_t>(n));
            if (auto r = out.append(buf.data(), static_cast<std::size_t>(n)); !r) {
                return r;
            }
            sent += static_cast<std::uint64_t>(n);
            contentSent += static_cast<std::uint64_t>(n);
            if (progress_) {
                progress_(contentSent);
            }
        }
        if (sha.finishHex() != item.sha256) {
            return changed("its content no longer hashes to " + item.sha256);
        }
    }
    return out.flush();
}

Result<PackStats> PackReader::read(int fd) {
    PackInput in(fd);
    PackStats stats;
    for (std::uint64_t index = 1;; ++index) {
        const std::uint64_t offset = in.offset();
        auto fail = [&](ErrorCode code, const std::string& what) {
            return makeError(code, "pack blob " + std::to_string(index) + " at offset " +
                                       std::to_string(offset) + ": " + what + " (" +
                                       std::to_string(stats.stored) + " stored and " +
                                       std::to_string(stats.present) +
                                       " already present before it)");
        };
        auto avail = in.fill(kMaxHeaderLine);
        if (!avail) {
            return fail(avail.error().code, avail.error().message);
        }
        if (*avail == 0) {
            return stats;  // the pack ends between blobs
        }
        std::string_view window(in.data(), std::min(*avail, kMaxHeaderLine));
        std::size_t nl = window.find('\n');
        if (nl == std::string_view::npos) {
            return fail(ErrorCode::InvalidArgument,
                        *avail < kMaxHeaderLine ? "truncated header"
                                                : "header line longer than " +
                                                      std::to_string(kMaxHeaderLine) + " bytes");
        }
        auto header = parseHeader(window.substr(0, nl));
        if (!header) {
            return fail(ErrorCode::InvalidArgument, header.error().message);
        }
        in.consume(nl + 1);
        ByteSource source = [&in](char* buf, std::size_t max) { return in.readSome(buf, max); };
        auto put = store_.put(header->hash, header->size, source);
        if (!put) {
            return fail(put.error().code, put.error().message);
        }
        ++(*put ? stats.stored : stats.present);
        stats.bytes += header->size;
    }
}

}  // namespace fetchml
