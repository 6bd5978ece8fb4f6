// Fuzz target: the worker socket as fetchmld reads it (docs/architecture/decisions.md "Worker
// socket", worker -> fetchmld). The bytes go through LineBuffer in chunks whose sizes come from
// the input, as recv(2) would cut them, and every complete line through parseWorkerMessage,
// which WorkerLink acts on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "WorkerMessage.hpp"
#include "proto/LineBuffer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    // First byte: chunk size (1 to 256 bytes).
    std::size_t chunk = std::size_t{data[0]} + 1;
    const char* bytes = reinterpret_cast<const char*>(data + 1);
    std::size_t left = size - 1;
    fetchml::LineBuffer lines(4096);
    std::size_t seen = 0;
    while (left > 0) {
        std::size_t n = left < chunk ? left : chunk;
        lines.append(bytes, n);
        bytes += n;
        left -= n;
        while (auto line = lines.next()) {
            seen += line->size() + 1;
            std::string type;
            auto message = fetchml::parseWorkerMessage(*line, type);
            if (message && message->type != type) {
                std::abort();
            }
        }
        if (lines.overflowed()) {
            return 0;  // WorkerLink drops the connection here
        }
    }
    if (seen > size) {
        std::abort();
    }
    return 0;
}
