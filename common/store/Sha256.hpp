#pragma once
// SHA-256 (FIPS 180-4) through libgcrypt (gcry_md_*, GCRY_MD_SHA256), which uses the CPU's SHA
// instructions where present. libgcrypt, not OpenSSL: libsystemd loads libgcrypt into every
// FetchML process anyway, while linking libcrypto costs fetchmlctl about 130 page faults and
// 3,400 symbol bindings at each start for one manifest hash (decisions.md "A short client
// start"). Digests are handed out as 64 lowercase hex digits, the form used everywhere in
// FetchML (store paths, manifests, commit ids; docs/architecture/decisions.md).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/Result.hpp"

struct gcry_md_handle;  // <gcrypt.h>

namespace fetchml {

/// Incremental SHA-256. Feed bytes with update(), then call finish() or finishHex() once.
/// Move-only: it owns a libgcrypt digest context.
class Sha256 {
public:
    /// Length of a digest in bytes (32) and in hex digits (64).
    static constexpr std::size_t kDigestBytes = 32;
    static constexpr std::size_t kHexDigits = 64;
    /// Read size used when hashing descriptors and files: 1 MiB.
    static constexpr std::size_t kChunkBytes = 1u << 20;

    using Digest = std::array<unsigned char, kDigestBytes>;

    /// Initialises libgcrypt on first use (without secure memory, which hashing needs not).
    /// Throws std::bad_alloc when libgcrypt cannot allocate the context.
    Sha256();
    ~Sha256();
    Sha256(Sha256&& other) noexcept;
    Sha256& operator=(Sha256&& other) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    /// Adds size bytes at data to the hash.
    void update(const void* data, std::size_t size);
    /// Adds the bytes of text to the hash.
    void update(std::string_view text) { update(text.data(), text.size()); }
    /// Ends the hash and returns the 32-byte digest. The object must not be used afterwards.
    Digest finish();
    /// Ends the hash and returns the digest as 64 lowercase hex digits.
    std::string finishHex();

    /// Lowercase hex of size bytes at data (2 digits a byte).
    static std::string toHex(const void* data, std::size_t size);
    /// SHA-256 of a buffer, as 64 lowercase hex digits.
    static std::string hashBuffer(std::string_view data);
    /// SHA-256 of everything read from fd until end of file, starting at its current offset,
    /// in kChunkBytes reads. bytesRead (if given) receives the number of bytes hashed.
    /// Errors: Internal "reading fd N: <strerror>".
    static Result<std::string> hashFd(int fd, std::uint64_t* bytesRead = nullptr);
    /// SHA-256 of the file at path (opened read-only, O_NOFOLLOW is not used).
    /// Errors: NotFound when the file does not exist, Internal for other I/O failures; the
    /// message names the path.
    static Result<std::string> hashFile(const std::string& path,
                                        std::uint64_t* bytesRead = nullptr);
    /// True when text is exactly 64 lowercase hex digits (the only accepted spelling).
    static bool isValidHex(std::string_view text);

private:
    gcry_md_handle* handle_ = nullptr;  ///< libgcrypt's gcry_md_hd_t
};

}  // namespace fetchml
