#include "store/FastCdc.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/Sha256.hpp"

namespace fetchml {

namespace {

bool isPowerOfTwo(std::uint32_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

unsigned log2Exact(std::uint32_t v) {
    unsigned b = 0;
    while ((1u << b) < v) {
        ++b;
    }
    return b;
}

}  // namespace

const std::array<std::uint64_t, 256>& FastCdc::gear() {
    static const std::array<std::uint64_t, 256> table = [] {
        std::array<std::uint64_t, 256> t{};
        for (unsigned i = 0; i < 256; ++i) {
            unsigned char byte = static_cast<unsigned char>(i);
            Sha256 h;
            h.update(&byte, 1);
            Sha256::Digest d = h.finish();
            std::uint64_t v = 0;
            for (int k = 0; k < 8; ++k) {
                v = (v << 8) | d[k];
            }
            t[i] = v;
        }
        return t;
    }();
    return table;
}

std::uint64_t FastCdc::spreadMask(unsigned k) {
    std::uint64_t mask = 0;
    unsigned step = 48 / k;
    for (unsigned j = 0; j < k; ++j) {
        mask |= std::uint64_t{1} << (63 - j * step);
    }
    return mask;
}

Result<FastCdc> FastCdc::create(ChunkLimits limits) {
    auto bad = [](const std::string& what) {
        return makeError(ErrorCode::InvalidArgument, "chunk limits: " + what);
    };
    if (limits.min < 64) {
        return bad("min " + std::to_string(limits.min) + " is below 64 bytes");
    }
    if (!isPowerOfTwo(limits.normal) || limits.normal < (1u << 8) || limits.normal > (1u << 30)) {
        return bad("normal " + std::to_string(limits.normal) +
                   " is not a power of two between 256 bytes and 1 GiB");
    }
    if (!(limits.min < limits.normal && limits.normal < limits.max)) {
        return bad("need min < normal < max, got " + std::to_string(limits.min) + ", " +
                   std::to_string(limits.normal) + ", " + std::to_string(limits.max));
    }
    if (limits.max > (1u << 30)) {
        return bad("max " + std::to_string(limits.max) + " is above 1 GiB");
    }
    unsigned bits = log2Exact(limits.normal);
    return FastCdc(limits, spreadMask(bits + 2), spreadMask(bits - 2));
}

std::size_t FastCdc::cut(const unsigned char* data, std::size_t size) const {
    if (size <= limits_.min) {
        return size;
    }
    std::size_t end = std::min<std::size_t>(size, limits_.max);
    std::size_t normal = std::min<std::size_t>(end, limits_.normal);
    const auto& g = gear();
    std::uint64_t fp = 0;
    std::size_t i = limits_.min;
    for (; i < normal; ++i) {
        fp = (fp << 1) + g[data[i]];
        if ((fp & maskSmall_) == 0) {
            return i + 1;
        }
    }
    for (; i < end; ++i) {
        fp = (fp << 1) + g[data[i]];
        if ((fp & maskLarge_) == 0) {
            return i + 1;
        }
    }
    return end;
}

Result<std::vector<ChunkedFile>> chunkFdLevels(int fd, const std::vector<const FastCdc*>& cdcs) {
    std::size_t lookahead = 0;  // the largest max: every chunker needs that much ahead
    for (const FastCdc* cdc : cdcs) {
        lookahead = std::max<std::size_t>(lookahead, cdc->limits().max);
    }
    const std::size_t capacity = std::max<std::size_t>(4u << 20, 2 * lookahead);
    std::vector<unsigned char> buf(capacity);
    std::vector<std::size_t> begins(cdcs.size(), 0);  // each chunker's first byte not in a chunk
    std::size_t filled = 0;
    bool atEnd = false;
    std::vector<ChunkedFile> out(cdcs.size());
    Sha256 whole;
    while (true) {
        // Each chunker cuts as far as it can while it has max bytes ahead (or the file ends).
        for (std::size_t k = 0; k < cdcs.size(); ++k) {
            const FastCdc& cdc = *cdcs[k];
            while (begins[k] < filled && (atEnd || filled - begins[k] >= cdc.limits().max)) {
                std::size_t len = cdc.cut(buf.data() + begins[k], filled - begins[k]);
                Sha256 part;
                part.update(buf.data() + begins[k], len);
                out[k].chunks.push_back(
                    Chunk{out[k].size, static_cast<std::uint32_t>(len), part.finishHex()});
                out[k].size += len;
                begins[k] += len;
            }
        }
        if (atEnd) {
            break;
        }
        // Keep the bytes some chunker has not cut yet; read more after them.
        const std::size_t keep = *std::min_element(begins.begin(), begins.end());
        std::memmove(buf.data(), buf.data() + keep, filled - keep);
        filled -= keep;
        for (auto& b : begins) {
            b -= keep;
        }
        while (!atEnd && filled < capacity) {
            ssize_t n = ::read(fd, buf.data() + filled, capacity - filled);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return makeError(ErrorCode::Internal,
                                 "reading fd " + std::to_string(fd) + ": " + std::strerror(errno));
            }
            if (n == 0) {
                atEnd = true;
            }
            whole.update(buf.data() + filled, static_cast<std::size_t>(n));
            filled += static_cast<std::size_t>(n);
        }
    }
    const std::string digest = whole.finishHex();
    for (auto& file : out) {
        file.sha256 = digest;
    }
    return out;
}

Result<ChunkedFile> chunkFd(int fd, const FastCdc& cdc) {
    auto levels = chunkFdLevels(fd, {&cdc});
    if (!levels) {
        return levels.error();
    }
    return std::move(levels->front());
}

}  // namespace fetchml
