// The edge's self-signed certificate: generated once, kept, fingerprinted like openssl does.

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fetchml-httpsd/Certificate.hpp"
#include "fetchml-httpsd/TlsContext.hpp"
#include "fetchml-httpsd/UploadSpool.hpp"

namespace fs = std::filesystem;
using fetchml::edge::Certificate;

namespace {

struct ScratchDir {
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "httpsd-unit-XXXXXX").string();
        path = ::mkdtemp(pattern.data());
    }
    ~ScratchDir() { fs::remove_all(path); }
    std::string path;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("a certificate is generated once, then kept", "[httpsd][certificate]") {
    ScratchDir dir;
    fetchml::HttpsSettings https;
    https.tlsDir = dir.path + "/tls";
    auto first = Certificate::ensure(https, "homelab.example");
    REQUIRE(first.ok());
    CHECK(first->generated);
    CHECK(first->certFile == https.tlsDir + "/cert.pem");
    struct stat st {};
    REQUIRE(::stat(first->keyFile.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(https.tlsDir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(slurp(https.tlsDir + "/fingerprint") == first->fingerprint + "\n");
    CHECK(first->fingerprint.size() == 32 * 3 - 1);

    auto second = Certificate::ensure(https, "homelab.example");
    REQUIRE(second.ok());
    CHECK_FALSE(second->generated);
    CHECK(second->fingerprint == first->fingerprint);

    // The certificate and key belong together and load into a TLS context.
    CHECK(fetchml::edge::TlsContext::create(first->certFile, first->keyFile).ok());
}

TEST_CASE("the certificate is X.509 v3, P-256, with the SANs", "[httpsd][certificate]") {
    ScratchDir dir;
    std::string cert = dir.path + "/c.pem";
    REQUIRE(Certificate::generate(cert, dir.path + "/k.pem", "homelab.example").ok());
    FILE* f = std::fopen(cert.c_str(), "r");
    REQUIRE(f != nullptr);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(x != nullptr);
    CHECK(X509_get_version(x) == 2);
    EVP_PKEY* key = X509_get0_pubkey(x);
    CHECK(EVP_PKEY_is_a(key, "EC"));
    CHECK(EVP_PKEY_get_bits(key) == 256);
    CHECK(X509_check_host(x, "localhost", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(x, "homelab.example", 0, 0, nullptr) == 1);
    CHECK(X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
    CHECK(X509_check_host(x, "other.example", 0, 0, nullptr) != 1);
    // Valid for about ten years.
    int days = 0;
    int secs = 0;
    REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)) == 1);
    CHECK(days >= 3650);
    CHECK(days <= 3660);
    X509_free(x);
}

TEST_CASE("cert_file and key_file are used as given, and only together", "[httpsd][certificate]") {
    ScratchDir dir;
    REQUIRE(Certificate::generate(dir.path + "/c.pem", dir.path + "/k.pem", "localhost").ok());
    fetchml::HttpsSettings https;
    https.tlsDir = dir.path + "/unused";
    https.certFile = dir.path + "/c.pem";
    auto half = Certificate::ensure(https, "localhost");
    REQUIRE_FALSE(half.ok());
    CHECK(half.error().code == fetchml::ErrorCode::InvalidArgument);
    https.keyFile = dir.path + "/k.pem";
    auto both = Certificate::ensure(https, "localhost");
    REQUIRE(both.ok());
    CHECK_FALSE(both->generated);
    CHECK_FALSE(fs::exists(https.tlsDir));
    CHECK(Certificate::fingerprint(dir.path + "/k.pem").error().code ==
          fetchml::ErrorCode::InvalidArgument);
}

TEST_CASE("an upload spool is an unlinked file with a cap", "[httpsd][spool]") {
    ScratchDir dir;
    auto spool = fetchml::edge::UploadSpool::open(dir.path, 10);
    REQUIRE(spool.ok());
    CHECK(fs::is_empty(dir.path));
    REQUIRE(spool->write("hello", 5).ok());
    REQUIRE(spool->write("world", 5).ok());
    auto over = spool->write("!", 1);
    REQUIRE_FALSE(over.ok());
    CHECK(over.error().code == fetchml::ErrorCode::InvalidArgument);
    CHECK(spool->size() == 10);
    auto fd = spool->finish();
    REQUIRE(fd.ok());
    char buf[16] = {};
    CHECK(::read(fd->get(), buf, sizeof buf) == 10);
    CHECK(std::string(buf) == "helloworld");
    CHECK(fetchml::edge::UploadSpool::directory("/x") == "/x");
}
