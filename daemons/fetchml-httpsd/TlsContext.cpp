#include "TlsContext.hpp"

#include <openssl/err.h>

#include "sys/OpensslError.hpp"

namespace fetchml::edge {

namespace {

Error sslError(const std::string& what) {
    return opensslError(ErrorCode::InvalidArgument, what);
}

}  // namespace

Result<TlsContext> TlsContext::create(const std::string& certFile, const std::string& keyFile) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        return sslError("SSL_CTX_new");
    }
    if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
        return sslError("cannot restrict TLS versions to 1.2 and 1.3");
    }
    SSL_CTX_set_options(ctx.get(), kOptions);
    if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
        return sslError("cannot set the TLS 1.2 cipher list");
    }
    if (SSL_CTX_set1_groups_list(ctx.get(), kGroups) != 1) {
        return sslError("cannot set the key exchange groups");
    }
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), certFile.c_str()) != 1) {
        return sslError("cannot load certificate " + certFile);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
        return sslError("cannot load private key " + keyFile);
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        return sslError("the key " + keyFile + " does not match the certificate " + certFile);
    }
    return TlsContext(std::move(ctx));
}

}  // namespace fetchml::edge
