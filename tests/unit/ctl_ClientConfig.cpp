// The client config file of fetchmlctl: keys, permissions, precedence.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "ClientConfig.hpp"

using namespace fetchml;
using namespace fetchml::ctl;

namespace {

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& content, mode_t mode) {
        char name[] = "/tmp/fetchml-ctl-config-XXXXXX";
        int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        std::ofstream(path) << content;
        ::chmod(path.c_str(), mode);
    }
    ~TempFile() { ::unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("the client config holds server, fingerprint and key", "[ctl][config]") {
    TempFile file("server: https://h:1\nfingerprint: ab\napi_key: fml_x\n", 0600);
    auto config = readClientConfigFile(file.path);
    REQUIRE(config.ok());
    CHECK(config->server == "https://h:1");
    CHECK(config->fingerprint == "ab");
    CHECK(config->apiKey == "fml_x");
}

TEST_CASE("a config holding a key must be mode 0600", "[ctl][config]") {
    TempFile file("api_key: fml_x\n", 0644);
    auto config = readClientConfigFile(file.path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find("must be mode 0600") != std::string::npos);
    CHECK(config.error().message.find("fml_x") == std::string::npos);  // never the secret

    TempFile noKey("server: https://h:1\n", 0644);
    CHECK(readClientConfigFile(noKey.path).ok());
}

TEST_CASE("unknown keys and a missing file", "[ctl][config]") {
    TempFile file("server: https://h:1\napikey: x\n", 0600);
    auto config = readClientConfigFile(file.path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find(":2:1: unknown key 'apikey'") != std::string::npos);
    auto missing = readClientConfigFile("/nonexistent/fetchml/client.yaml");
    REQUIRE(missing.ok());
    CHECK(missing->server.empty());
}

TEST_CASE("environment overrides the file, flags override the environment", "[ctl][config]") {
    TempFile file("server: https://file:1\nfingerprint: filefp\n", 0600);
    ::setenv("FETCHML_SERVER", "https://env:2", 1);
    ::unsetenv("FETCHML_FINGERPRINT");
    ::unsetenv("FETCHML_API_KEY");
    auto config = loadClientConfig(file.path, std::nullopt, std::string("flagfp"));
    ::unsetenv("FETCHML_SERVER");
    REQUIRE(config.ok());
    CHECK(config->server == "https://env:2");
    CHECK(config->fingerprint == "flagfp");

    ::setenv("FETCHML_SERVER", "", 1);  // set but empty: the system bus
    auto bus = loadClientConfig(file.path, std::nullopt, std::nullopt);
    ::unsetenv("FETCHML_SERVER");
    REQUIRE(bus.ok());
    CHECK(bus->server.empty());
    CHECK(bus->fingerprint == "filefp");
}
