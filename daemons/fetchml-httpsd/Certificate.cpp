#include "Certificate.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "sys/UniqueFd.hpp"

#include "sys/OpensslError.hpp"

namespace fetchml::edge {

namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
    void operator()(X509* p) const { X509_free(p); }
};
struct BioDeleter {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct ExtDeleter {
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtDeleter>;

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600 + 3 * 24 * 3600;  // 10 years + leap days

Error sslError(const std::string& what) {
    return opensslError(ErrorCode::Internal, what);
}

Error sysError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

/// Writes `data` to `path` through a temporary file in the same directory, fsynced, renamed.
Result<void> writeAtomically(const std::string& path, const std::string& data, mode_t mode) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd) {
        return sysError("cannot create " + tmp);
    }
    if (::fchmod(fd.get(), mode) != 0) {  // the umask may have narrowed or widened nothing
        return sysError("cannot chmod " + tmp);
    }
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            ::unlink(tmp.c_str());
            return sysError("cannot write " + tmp);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        Error error = sysError("cannot write " + path);
        ::unlink(tmp.c_str());
        return error;
    }
    return {};
}

std::string bioText(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Result<void> addExtension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        return sslError("cannot add extension " + value);
    }
    return {};
}

bool isDnsName(const std::string& host) {
    if (host.empty() || host.size() > 253) {
        return false;
    }
    for (char c : host) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/// Builds the self-signed certificate for `key`.
Result<X509Ptr> makeCertificate(EVP_PKEY* key, const std::string& host) {
    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1) {  // 2 = v3
        return sslError("X509_new");
    }
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) {
        return sslError("RAND_bytes");
    }
    serial[0] &= 0x7f;  // positive (RFC 5280 §4.1.2.2)
    std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr),
                                                   &BN_free);
    if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
        return sslError("serial number");
    }
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate small clock skew
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds);
    X509_NAME* name = X509_get_subject_name(cert.get());
    std::string cn = isDnsName(host) ? host : "localhost";
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("FetchML"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_set_pubkey(cert.get(), key) != 1) {
        return sslError("X509_set_pubkey");
    }
    std::string san = "DNS:localhost,IP:127.0.0.1";
    if (isDnsName(host) && host != "localhost") {
        san += ",DNS:" + host;
    }
    for (auto [nid, value] :
         {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
          {NID_key_usage, "critical,digitalSignature"},
          {NID_ext_key_usage, "serverAuth"},
          {NID_subject_key_identifier, "hash"},
          {NID_subject_alt_name, san}}) {
        if (auto added = addExtension(cert.get(), nid, value); !added) {
            return added.error();
        }
    }
    if (X509_sign(cert.get(), key, EVP_sha256()) == 0) {
        return sslError("X509_sign");
    }
    return cert;
}

}  // namespace

Result<void> Certificate::generate(const std::string& certFile, const std::string& keyFile,
                                   const std::string& host) {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) {
        return sslError("cannot generate an ECDSA P-256 key");
    }
    auto cert = makeCertificate(key.get(), host);
    if (!cert) {
        return cert.error();
    }
    BioPtr keyBio(BIO_new(BIO_s_mem()));
    BioPtr certBio(BIO_new(BIO_s_mem()));
    if (!keyBio || !certBio ||
        PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1 ||
        PEM_write_bio_X509(certBio.get(), cert.value().get()) != 1) {
        return sslError("cannot encode the key or certificate as PEM");
    }
    // Key first: a crash in between leaves no certificate, so the next start generates again.
    if (auto written = writeAtomically(keyFile, bioText(keyBio.get()), 0600); !written) {
        return written;
    }
    return writeAtomically(certFile, bioText(certBio.get()), 0644);
}

Result<std::string> Certificate::fingerprint(const std::string& certFile) {
    BioPtr bio(BIO_new_file(certFile.c_str(), "r"));
    if (!bio) {
        ERR_clear_error();
        return makeError(ErrorCode::NotFound, "cannot read certificate " + certFile);
    }
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        ERR_clear_error();
        return makeError(ErrorCode::InvalidArgument, certFile + " holds no PEM certificate");
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
        return sslError("X509_digest");
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += i == 0 ? "" : ":";
        out.push_back(kHex[md[i] >> 4]);
        out.push_back(kHex[md[i] & 0xf]);
    }
    return out;
}

Result<CertificateFiles> Certificate::ensure(const HttpsSettings& https, const std::string& host) {
    namespace fs = std::filesystem;
    CertificateFiles files;
    if (!https.certFile.empty() || !https.keyFile.empty()) {
        if (https.certFile.empty() || https.keyFile.empty()) {
            return makeError(ErrorCode::InvalidArgument,
                             "https.cert_file and https.key_file must be set together");
        }
        files.certFile = https.certFile;
        files.keyFile = https.keyFile;
        for (const auto& path : {files.certFile, files.keyFile}) {
            if (::access(path.c_str(), R_OK) != 0) {
                return sysError("cannot read " + path);
            }
        }
        auto fp = fingerprint(files.certFile);
        if (!fp) {
            return fp.error();
        }
        files.fingerprint = fp.value();
        return files;
    }
    std::error_code ec;
    fs::create_directories(https.tlsDir, ec);
    if (ec) {
        return makeError(ErrorCode::Internal,
                         "cannot create " + https.tlsDir + ": " + ec.message());
    }
    ::chmod(https.tlsDir.c_str(), 0700);
    files.certFile = (fs::path(https.tlsDir) / "cert.pem").string();
    files.keyFile = (fs::path(https.tlsDir) / "key.pem").string();
    if (!fs::exists(files.certFile, ec) || !fs::exists(files.keyFile, ec)) {
        if (auto made = generate(files.certFile, files.keyFile, host); !made) {
            return made.error();
        }
        files.generated = true;
    }
    auto fp = fingerprint(files.certFile);
    if (!fp) {
        return fp.error();
    }
    files.fingerprint = fp.value();
    auto written = writeAtomically((fs::path(https.tlsDir) / "fingerprint").string(),
                                   files.fingerprint + "\n", 0644);
    if (!written) {
        return written.error();
    }
    return files;
}

}  // namespace fetchml::edge
