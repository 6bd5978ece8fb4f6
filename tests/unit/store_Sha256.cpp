#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

using namespace fetchml;

// Test vectors from NIST FIPS 180-4 examples (SHA256.pdf, "Example Algorithm Output").
TEST_CASE("Sha256 matches the NIST example vectors", "[store][sha256]") {
    REQUIRE(Sha256::hashBuffer("abc") ==
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    REQUIRE(Sha256::hashBuffer("") ==
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    REQUIRE(Sha256::hashBuffer("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Sha256 incremental updates equal one-shot hashing", "[store][sha256]") {
    // One million 'a' (FIPS 180-4 long message example), fed in uneven pieces.
    std::string million(1000000, 'a');
    Sha256 sha;
    std::size_t pos = 0;
    std::size_t step = 1;
    while (pos < million.size()) {
        std::size_t n = std::min(step, million.size() - pos);
        sha.update(million.data() + pos, n);
        pos += n;
        step = step * 3 + 1;
    }
    std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    REQUIRE(sha.finishHex() == expected);
    REQUIRE(Sha256::hashBuffer(million) == expected);
}

TEST_CASE("Sha256 hashes descriptors and files", "[store][sha256]") {
    char dirTemplate[] = "/tmp/fetchml-sha-XXXXXX";
    REQUIRE(::mkdtemp(dirTemplate) != nullptr);
    std::string dir = dirTemplate;
    std::string path = dir + "/big";
    // Larger than one read chunk so the loop runs more than once.
    std::string content(Sha256::kChunkBytes * 2 + 12345, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) {
        content[i] = static_cast<char>((i * 131) % 251);
    }
    {
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        REQUIRE(fd);
        REQUIRE(::write(fd.get(), content.data(), content.size()) ==
                static_cast<ssize_t>(content.size()));
    }
    std::uint64_t bytes = 0;
    auto fromFile = Sha256::hashFile(path, &bytes);
    REQUIRE(fromFile.ok());
    REQUIRE(*fromFile == Sha256::hashBuffer(content));
    REQUIRE(bytes == content.size());

    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(::lseek(fd.get(), 100, SEEK_SET) == 100);
    auto fromFd = Sha256::hashFd(fd.get());
    REQUIRE(fromFd.ok());
    REQUIRE(*fromFd == Sha256::hashBuffer(std::string_view(content).substr(100)));

    auto missing = Sha256::hashFile(dir + "/missing");
    REQUIRE_FALSE(missing.ok());
    REQUIRE(missing.error().code == ErrorCode::NotFound);
    REQUIRE(missing.error().message.find("missing") != std::string::npos);

    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("Sha256 hex validation accepts only 64 lowercase hex digits", "[store][sha256]") {
    std::string good = Sha256::hashBuffer("x");
    REQUIRE(Sha256::isValidHex(good));
    REQUIRE_FALSE(Sha256::isValidHex(good.substr(1)));
    REQUIRE_FALSE(Sha256::isValidHex(good + "0"));
    std::string upper = good;
    upper[0] = 'A';
    REQUIRE_FALSE(Sha256::isValidHex(upper));
    std::string other = good;
    other[5] = 'g';
    REQUIRE_FALSE(Sha256::isValidHex(other));
    REQUIRE_FALSE(Sha256::isValidHex(""));
    REQUIRE(Sha256::toHex("\x01\xab", 2) == "01ab");
}
