#pragma once
// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface, which uses the CPU's SHA instructions
// where present. Digests are handed out as 64 lowercase hex digits, the form used everywhere in
// FetchML (store paths, manifests, commit ids; docs/architecture/decisions.md).

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml {

/// Incremental SHA-256. Feed bytes with update(), then call finish() or finishHex() once.
/// Creating the context only fails when memory is exhausted: then std::bad_alloc is thrown.
class Sha256 {
public:
    /// Length of a digest in bytes (32) and in hex digits (64).
    static constexpr std::size_t kDigestBytes = 32;
    static constexpr std::size_t kHexDigits = 64;
    /// Read size used when hashing descriptors and files: 1 MiB.
    static constexpr std::size_t kChunkBytes = 1u << 20;

    using Digest = std::array<unsigned char, kDigestBytes>;

    Sha256();

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
    struct CtxDeleter {
        void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
    };
    std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

}  // namespace fetchml
