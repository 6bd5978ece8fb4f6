// Fuzz target: the blob pack of POST /v1/blobs (docs/architecture/decisions.md "Blob pack"),
// read by PackReader into a BlobStore the way fetchmld reads the spooled upload: from a memfd
// at offset 0 (pread), then again from a pipe (read), where the outcome must be the same (the
// second time every blob is already present). The store lives in a temporary directory
// (TMPDIR, else /dev/shm or /tmp) made once per process and emptied for every input.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "store/BlobStore.hpp"
#include "store/Pack.hpp"
#include "sys/UniqueFd.hpp"

namespace {

namespace fs = std::filesystem;

/// The temporary directory of this process, removed at exit.
struct TempRoot {
    std::string path;
    TempRoot() {
        // tmpfs when there is one: BlobStore fsyncs every blob.
        const char* tmp = std::getenv("TMPDIR");
        std::string base = tmp != nullptr && *tmp != '\0' ? tmp
                           : fs::is_directory("/dev/shm") ? "/dev/shm"
                                                          : "/tmp";
        path = base + "/fetchml-fuzz-pack-XXXXXX";
        if (::mkdtemp(path.data()) == nullptr) {
            std::abort();
        }
    }
    ~TempRoot() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

fetchml::UniqueFd memfdWith(const std::uint8_t* data, std::size_t size) {
    fetchml::UniqueFd fd(::memfd_create("fuzz-pack", MFD_CLOEXEC));
    if (!fd || ::write(fd.get(), data, size) != static_cast<ssize_t>(size)) {
        std::abort();
    }
    return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const TempRoot root;
    std::error_code ec;
    fs::remove_all(root.path + "/store", ec);
    auto store = fetchml::BlobStore::create(root.path + "/store");
    if (!store) {
        std::abort();
    }
    fetchml::PackReader reader(store.value());
    auto fromFile = reader.read(memfdWith(data, size).get());
    if (fromFile && fromFile->bytes > size) {
        std::abort();
    }
    // The same bytes through a pipe (read(2) path), when they fit the pipe's buffer.
    if (size > 60000) {
        return 0;
    }
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
        std::abort();
    }
    fetchml::UniqueFd readEnd(ends[0]);
    {
        fetchml::UniqueFd writeEnd(ends[1]);
        if (size > 0 && ::write(writeEnd.get(), data, size) != static_cast<ssize_t>(size)) {
            std::abort();
        }
    }
    auto fromPipe = reader.read(readEnd.get());
    if (fromFile.ok() != fromPipe.ok()) {
        std::abort();
    }
    if (fromFile && (fromPipe->stored != 0 || fromPipe->bytes != fromFile->bytes ||
                     fromPipe->present != fromFile->stored + fromFile->present)) {
        std::abort();
    }
    return 0;
}
