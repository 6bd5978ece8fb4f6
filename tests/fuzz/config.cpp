// Fuzz target: the YAML configuration (/etc/fetchml/fetchml.yaml): YamlParser on the text,
// then loadSettings, the whole path from a file to validated Settings (keys, types, values,
// resolvePaths). The text is put in a memfd and read through /proc/self/fd/<n>, so no file is
// written; its "<file>.d" drop-in directory does not exist.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/Config.hpp"
#include "core/YamlParser.hpp"
#include "sys/UniqueFd.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    {
        fetchml::YamlParser parser;
        (void)parser.parse(text, "fuzz.yaml");
    }
    fetchml::UniqueFd fd(::memfd_create("fuzz-config", MFD_CLOEXEC));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        std::abort();
    }
    fetchml::LoadOptions options;
    options.path = "/proc/self/fd/" + std::to_string(fd.get());
    options.mustExist = true;
    options.readEnvironment = false;
    auto settings = fetchml::loadSettings(options);
    if (settings) {
        (void)fetchml::resolvePaths(settings.value());
    }
    return 0;
}
