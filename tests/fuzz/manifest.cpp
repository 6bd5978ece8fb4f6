// Fuzz target: the manifest text (POST /v1/commits body, docs/architecture/decisions.md
// "Manifest"), Manifest::parse. A text that parses must be canonical: text() gives back the
// same bytes, and fromEntries() of its entries gives the same manifest.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/Manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto manifest = fetchml::Manifest::parse(text);
    if (!manifest) {
        return 0;
    }
    if (manifest->text() != text) {
        std::abort();  // parse accepted a text that is not the canonical form
    }
    auto again = fetchml::Manifest::fromEntries(manifest->entries());
    if (!again || again->entries() != manifest->entries()) {
        std::abort();  // the two validators disagree
    }
    (void)manifest->commitId();
    (void)manifest->totalBytes();
    (void)manifest->blobHashes();
    return 0;
}
