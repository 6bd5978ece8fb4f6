#pragma once
// TlsContext: the server's OpenSSL SSL_CTX, configured once, following Mozilla's
// "intermediate" server configuration (https://ssl-config.mozilla.org/, guidelines v5.7;
// https://wiki.mozilla.org/Security/Server_Side_TLS):
// - protocols TLS 1.2 and 1.3 only (SSLv3, TLS 1.0 and 1.1 refused);
// - TLS 1.2 cipher list: the intermediate list without its two DHE-RSA suites, because
//   FetchML configures no Diffie-Hellman parameters (https has no dhparam key) and its
//   certificate is ECDSA P-256 anyway; ECDHE with AES-GCM or ChaCha20-Poly1305 only, all
//   forward secret and AEAD;
// - TLS 1.3 suites: OpenSSL's default (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
//   TLS_CHACHA20_POLY1305_SHA256), which is Mozilla's list;
// - key exchange groups X25519, prime256v1, secp384r1;
// - the server's cipher preference (SSL_OP_CIPHER_SERVER_PREFERENCE), no compression
//   (SSL_OP_NO_COMPRESSION, CRIME), no renegotiation of any kind (SSL_OP_NO_RENEGOTIATION:
//   a TLS 1.2 client's renegotiation request is answered with a no_renegotiation alert);
// - no session tickets (SSL_OP_NO_TICKET): the server does not rotate ticket keys, and a
//   ticket key that lives as long as the process would undo forward secrecy for every
//   session it protected. Resumption still works through OpenSSL's in-memory session cache
//   (server side, per process), which is lost on restart; for a home server the cost of a
//   full handshake is negligible.
// Owned in RAII; the HTTP server borrows the handle.

#include <openssl/ssl.h>

#include <cstdint>
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
    /// Cipher list for TLS 1.2 (OpenSSL syntax): Mozilla intermediate v5.7 without
    /// DHE-RSA-AES128-GCM-SHA256 and DHE-RSA-AES256-GCM-SHA384 (no dhparams configured).
    static constexpr const char* kTls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

    /// Key exchange groups (OpenSSL syntax), in the server's order of preference.
    static constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

    /// Options set on the context (see the file comment).
    static constexpr std::uint64_t kOptions =
        SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
        SSL_OP_NO_TICKET | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;

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
