// SHA256_Init/Update/Final are marked deprecated in OpenSSL 3.0 in favour of EVP; they remain
// supported and are used on purpose (Sha256.hpp says why).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "store/Sha256.hpp"

#include <openssl/sha.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

static_assert(sizeof(SHA256_CTX) <= 128 && alignof(SHA256_CTX) <= 8,
              "Sha256::ctx_ must hold an OpenSSL SHA256_CTX");

SHA256_CTX* context(unsigned char* bytes) {
    return reinterpret_cast<SHA256_CTX*>(bytes);
}

}  // namespace

Sha256::Sha256() : ctx_{} {
    SHA256_Init(context(ctx_));  // only fails for a null context
}

void Sha256::update(const void* data, std::size_t size) {
    SHA256_Update(context(ctx_), data, size);  // only fails for a null context
}

Sha256::Digest Sha256::finish() {
    Digest digest{};
    SHA256_Final(digest.data(), context(ctx_));
    return digest;
}

std::string Sha256::finishHex() {
    Digest digest = finish();
    return toHex(digest.data(), digest.size());
}

std::string Sha256::toHex(const void* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    const auto* bytes = static_cast<const unsigned char*>(data);
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
    }
    return out;
}

std::string Sha256::hashBuffer(std::string_view data) {
    Sha256 sha;
    sha.update(data);
    return sha.finishHex();
}

Result<std::string> Sha256::hashFd(int fd, std::uint64_t* bytesRead) {
    Sha256 sha;
    std::vector<char> buf(kChunkBytes);
    std::uint64_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return makeError(ErrorCode::Internal,
                             "reading fd " + std::to_string(fd) + ": " + std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        sha.update(buf.data(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
    }
    if (bytesRead != nullptr) {
        *bytesRead = total;
    }
    return sha.finishHex();
}

Result<std::string> Sha256::hashFile(const std::string& path, std::uint64_t* bytesRead) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        int err = errno;
        return makeError(err == ENOENT ? ErrorCode::NotFound : ErrorCode::Internal,
                         "opening " + path + ": " + std::strerror(err));
    }
    // Sequential read-ahead helps large files; failure only costs speed.
    (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    auto hash = hashFd(fd.get(), bytesRead);
    if (!hash) {
        return makeError(hash.error().code, "hashing " + path + ": " + hash.error().message);
    }
    return hash;
}

bool Sha256::isValidHex(std::string_view text) {
    if (text.size() != kHexDigits) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace fetchml
