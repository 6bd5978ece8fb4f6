#include "store/Sha256.hpp"

#include <gcrypt.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

/// libgcrypt must be initialised once per process before use ("Initializing the library" in
/// the libgcrypt manual). libsystemd may have done it already; hashing needs no secure memory.
void initializeGcrypt() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P) != 0) {
            return;
        }
        gcry_check_version(nullptr);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    });
}

}  // namespace

Sha256::Sha256() {
    initializeGcrypt();
    if (gcry_md_open(&handle_, GCRY_MD_SHA256, 0) != 0) {
        throw std::bad_alloc();  // only fails without memory (the algorithm is always there)
    }
}

Sha256::~Sha256() {
    gcry_md_close(handle_);  // accepts nullptr (a moved-from object)
}

Sha256::Sha256(Sha256&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
}

void Sha256::update(const void* data, std::size_t size) {
    gcry_md_write(handle_, data, size);
}

Sha256::Digest Sha256::finish() {
    Digest digest{};
    const unsigned char* bytes = gcry_md_read(handle_, GCRY_MD_SHA256);  // finalises
    std::memcpy(digest.data(), bytes, digest.size());
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
    initializeGcrypt();
    Digest digest{};
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest.data(), data.data(), data.size());
    return toHex(digest.data(), digest.size());
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
