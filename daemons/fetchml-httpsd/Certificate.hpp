#pragma once
// Certificate: the edge's TLS certificate and key. When https.cert_file and https.key_file are
// empty, the edge uses <tls_dir>/cert.pem and <tls_dir>/key.pem and generates them on first
// start: an ECDSA P-256 key and a self-signed X.509 v3 certificate (RFC 5280) valid 10 years
// with subjectAltName DNS:localhost, IP:127.0.0.1 and the host name. The key is written mode
// 0600 and atomically (temporary file, fsync, rename), so a crash never leaves half a key.

#include <string>

#include "core/Result.hpp"
#include "core/Settings.hpp"

namespace fetchml::edge {

/// The files to serve with, and the certificate's fingerprint.
struct CertificateFiles {
    std::string certFile;     ///< PEM certificate (chain)
    std::string keyFile;      ///< PEM private key
    std::string fingerprint;  ///< SHA-256 of the DER, "AB:CD:..." as `openssl x509 -fingerprint`
    bool generated = false;   ///< true if this call created them
};

/// Finding, generating and fingerprinting the certificate.
class Certificate {
public:
    /// Uses https.cert_file/key_file when both are set (errors: InvalidArgument if only one
    /// is, NotFound if a file is missing); else <https.tlsDir>/{cert,key}.pem, generated
    /// (with the tls dir, mode 0700) when either is missing. When generated or found in the
    /// tls dir, the fingerprint is also written to <tls_dir>/fingerprint ("AB:CD:...\n").
    /// Errors: Internal with the OpenSSL or system error.
    static Result<CertificateFiles> ensure(const HttpsSettings& https, const std::string& host);

    /// Generates a new key and self-signed certificate for `host` into the two paths
    /// (the key 0600, the certificate 0644, both atomically). Errors: Internal.
    static Result<void> generate(const std::string& certFile, const std::string& keyFile,
                                 const std::string& host);

    /// SHA-256 fingerprint of the first certificate in a PEM file, uppercase hex pairs joined
    /// by ':' (the format of `openssl x509 -noout -fingerprint -sha256`). Errors: NotFound,
    /// InvalidArgument if it holds no certificate.
    static Result<std::string> fingerprint(const std::string& certFile);
};

}  // namespace fetchml::edge
