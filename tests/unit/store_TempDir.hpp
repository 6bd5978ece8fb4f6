#pragma once
// A temporary directory for store and auth unit tests, removed with its contents afterwards.

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace fetchml::testing {

/// mkdtemp(3) directory under /tmp; removed recursively (read-only files included).
class StoreTempDir {
public:
    StoreTempDir() {
        std::string pattern = "/tmp/fetchml-store-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    StoreTempDir(const StoreTempDir&) = delete;
    StoreTempDir& operator=(const StoreTempDir&) = delete;
    ~StoreTempDir() {
        std::error_code ec;
        // Directories may have been made read-only by a test; give write access back first.
        for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
             it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) {
                ::chmod(it->path().c_str(), 0700);
            }
        }
        std::filesystem::remove_all(path_, ec);
    }

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

/// Writes content to path (creating parent directories) and sets its mode.
inline void writeTestFile(const std::string& path, const std::string& content, mode_t mode = 0644) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
    }
    ::chmod(path.c_str(), mode);
}

/// The whole content of a file.
inline std::string readTestFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// n bytes of a seeded pseudo-random stream (mt19937_64, 8 bytes per draw, low byte first):
/// the same seed gives the same bytes, and they neither compress nor repeat, as file content
/// for chunking tests should.
inline std::string randomBytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        std::uint64_t v = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) {
            s[i + k] = static_cast<char>(v >> (8 * k));
        }
    }
    return s;
}

}  // namespace fetchml::testing
