// bench/sync hashing: FetchML's own SHA-256 (Sha256::hashFile, OpenSSL EVP in 1 MiB reads, as
// Manifest::scan hashes a tree) over the files named on the command line, or the scan of a
// whole tree (Manifest::scan: walk, ignore rules, hashing; what `fetchmlctl sync` does before
// it asks the server anything). bench/sync/run compares it with sha256sum and openssl dgst.
//
// Usage: fetchml-bench-hash FILE...       prints "<sha256>  <path>" per file (sha256sum's
//                                         format), then "total bytes=N seconds=S mb_per_s=R"
//        fetchml-bench-hash --scan DIR    prints "scan files=N bytes=N seconds=S mb_per_s=R"
// Units: bytes; seconds of wall time (steady clock) around the hashing or the scan alone,
// process start excluded; MB/s in 10^6 bytes a second.
// Errors: a file or tree that cannot be read is reported on stderr ("fetchml-bench-hash:
// <message>") and the exit status is 1; usage errors exit 2.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"

using namespace fetchml;

namespace {

using Clock = std::chrono::steady_clock;

double mbPerSecond(std::uint64_t bytes, double seconds) {
    return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

int scan(const std::string& dir) {
    const auto start = Clock::now();
    auto manifest = Manifest::scan(dir);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!manifest) {
        std::fprintf(stderr, "fetchml-bench-hash: %s\n", manifest.error().message.c_str());
        return 1;
    }
    const std::uint64_t bytes = manifest->totalBytes();
    std::printf("scan files=%zu bytes=%llu seconds=%.4f mb_per_s=%.1f\n",
                manifest->entries().size(), static_cast<unsigned long long>(bytes), seconds,
                mbPerSecond(bytes, seconds));
    return 0;
}

int hashFiles(const std::vector<std::string>& paths) {
    std::vector<std::string> digests;
    std::uint64_t total = 0;
    const auto start = Clock::now();
    for (const auto& path : paths) {
        std::uint64_t bytes = 0;
        auto digest = Sha256::hashFile(path, &bytes);
        if (!digest) {
            std::fprintf(stderr, "fetchml-bench-hash: %s\n", digest.error().message.c_str());
            return 1;
        }
        digests.push_back(std::move(*digest));
        total += bytes;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (std::size_t i = 0; i < paths.size(); ++i) {
        std::printf("%s  %s\n", digests[i].c_str(), paths[i].c_str());
    }
    std::printf("total bytes=%llu seconds=%.4f mb_per_s=%.1f\n",
                static_cast<unsigned long long>(total), seconds, mbPerSecond(total, seconds));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 2 && args[0] == "--scan") {
        return scan(args[1]);
    }
    if (args.empty() || args[0].starts_with("-")) {
        std::fprintf(stderr, "usage: fetchml-bench-hash FILE... | --scan DIR\n");
        return 2;
    }
    return hashFiles(args);
}
