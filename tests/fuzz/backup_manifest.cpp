// Fuzz target: a backup directory's backup-manifest (ctl/BackupManifest.hpp), which
// `fetchmlctl restore` reads as root from what may be any medium. Each input is parsed twice:
// as it is, and with a correct end line appended (so that the fuzzer explores the lines before
// it rather than stopping at the SHA-256). A text that parses must be canonical: text() gives
// back the same bytes, and every log path stays under runs/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "BackupManifest.hpp"
#include "store/Sha256.hpp"

namespace {

void check(std::string_view text) {
    auto manifest = fetchml::ctl::BackupManifest::parse(text);
    if (!manifest) {
        return;
    }
    if (manifest->text() != text) {
        std::abort();  // parse accepted a text that is not the canonical form
    }
    for (const auto& log : manifest->logs) {
        if (log.path.rfind("runs/", 0) != 0 || log.path.find("..") != std::string::npos) {
            std::abort();  // a restore would write outside the run directories
        }
    }
    (void)manifest->blobBytes();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check(text);
    std::string sealed(text);
    sealed += "end " + fetchml::Sha256::hashBuffer(sealed) + "\n";
    check(sealed);
    return 0;
}
