#pragma once
// TlsContext: the server's OpenSSL SSL_CTX, configured once: TLS 1.2 and 1.3 only, the
// server's cipher preference, forward-secret AEAD suites only for TLS 1.2, no compression
// (CRIME), no renegotiation. Owned in RAII; the HTTP server borrows the handle.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "core/Result.hpp"

namespace fetchml::edge {

/// Frees an SSL_CTX.
struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
/// Owning SSL_CTX pointer.
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

/// The server-side TLS configuration.
class TlsContext {
public:
    /// Cipher list for TLS 1.2 (OpenSSL syntax): ECDHE with AES-GCM or ChaCha20-Poly1305.
    /// TLS 1.3 uses OpenSSL's default suites (all AEAD).
    static constexpr const char* kTls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

    /// Loads the PEM certificate chain and key and checks that they belong together.
    /// Errors: InvalidArgument naming the file and the OpenSSL reason.
    static Result<TlsContext> create(const std::string& certFile, const std::string& keyFile);

    /// The handle; owned by this object.
    SSL_CTX* get() const { return ctx_.get(); }

private:
    explicit TlsContext(SslCtxPtr ctx) : ctx_(std::move(ctx)) {}
    SslCtxPtr ctx_;
};

}  // namespace fetchml::edge
