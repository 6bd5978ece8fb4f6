#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/BlobStore.hpp"
#include "store/Sha256.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;
using fetchml::testing::readTestFile;
using fetchml::testing::StoreTempDir;
using fetchml::testing::writeTestFile;

namespace {

std::size_t countEntries(const std::string& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
        ++n;
    }
    return n;
}

std::string blobContent(int i) {
    return "blob number " + std::to_string(i) + "\n" +
           std::string(static_cast<size_t>(i * 37), 'x');
}

}  // namespace

TEST_CASE("BlobStore stores, finds and opens blobs", "[store][blobstore]") {
    StoreTempDir tmp;
    bool allowTmpfile = GENERATE(true, false);
    auto store = BlobStore::create(tmp / "store", allowTmpfile);
    REQUIRE(store.ok());
    REQUIRE(std::filesystem::is_directory(tmp / "store/objects/sha256"));
    REQUIRE(std::filesystem::is_directory(tmp / "store/tmp"));

    std::string data = "hello, store\n";
    std::string hash = Sha256::hashBuffer(data);
    REQUIRE_FALSE(store->has(hash));
    auto put = store->putBuffer(data, hash);
    REQUIRE(put.ok());
    REQUIRE(*put == true);
    REQUIRE(store->has(hash));
    std::string expectedPath =
        tmp / ("store/objects/sha256/" + hash.substr(0, 2) + "/" + hash.substr(2));
    REQUIRE(store->path(hash) == expectedPath);
    REQUIRE(readTestFile(expectedPath) == data);
    struct stat st {};
    REQUIRE(::stat(expectedPath.c_str(), &st) == 0);
    REQUIRE((st.st_mode & 07777) == 0444);

    // Idempotent: a second put stores nothing new.
    auto again = store->putBuffer(data, hash);
    REQUIRE(again.ok());
    REQUIRE(*again == false);

    auto fd = store->open(hash);
    REQUIRE(fd.ok());
    char buf[64] = {};
    REQUIRE(::read(fd->get(), buf, sizeof buf) == static_cast<ssize_t>(data.size()));
    REQUIRE(std::string(buf, data.size()) == data);
    REQUIRE(::write(fd->get(), "x", 1) < 0);  // read-only descriptor
    REQUIRE(*store->size(hash) == data.size());
    REQUIRE(countEntries(store->tmpDir()) == 0);

    std::string absent = Sha256::hashBuffer("absent");
    auto missing = store->open(absent);
    REQUIRE_FALSE(missing.ok());
    REQUIRE(missing.error().code == ErrorCode::NotFound);
    REQUIRE(missing.error().message.find(absent) != std::string::npos);
    REQUIRE(store->open("../../etc/passwd").error().code == ErrorCode::InvalidArgument);
    REQUIRE_FALSE(store->has("not-a-hash"));

    // The empty blob is a blob like any other.
    std::string empty = Sha256::hashBuffer("");
    REQUIRE(*store->putBuffer("", empty) == true);
    REQUIRE(*store->size(empty) == 0);
}

TEST_CASE("BlobStore refuses content that does not match its hash", "[store][blobstore]") {
    StoreTempDir tmp;
    bool allowTmpfile = GENERATE(true, false);
    auto store = BlobStore::create(tmp / "store", allowTmpfile);
    REQUIRE(store.ok());
    std::string claimed = Sha256::hashBuffer("the real content");

    auto bad = store->putBuffer("other content", claimed);
    REQUIRE_FALSE(bad.ok());
    REQUIRE(bad.error().code == ErrorCode::InvalidArgument);
    REQUIRE(bad.error().message.find(claimed) != std::string::npos);
    REQUIRE_FALSE(store->has(claimed));
    REQUIRE(countEntries(store->tmpDir()) == 0);

    // A source that ends before the announced size.
    std::string data = "short";
    bool sent = false;
    ByteSource source = [&](char* buf, std::size_t max) -> Result<std::size_t> {
        if (sent) {
            return std::size_t{0};
        }
        sent = true;
        std::size_t n = std::min(max, data.size());
        std::memcpy(buf, data.data(), n);
        return n;
    };
    auto truncated = store->put(Sha256::hashBuffer("short and more"), 14, source);
    REQUIRE_FALSE(truncated.ok());
    REQUIRE(truncated.error().code == ErrorCode::InvalidArgument);
    REQUIRE(truncated.error().message.find("truncated after 5 of 14 bytes") != std::string::npos);
    REQUIRE(countEntries(store->tmpDir()) == 0);

    // A source error is passed on unchanged and leaves nothing behind.
    ByteSource failing = [](char*, std::size_t) -> Result<std::size_t> {
        return makeError(ErrorCode::Busy, "source broke");
    };
    auto failed = store->put(claimed, 10, failing);
    REQUIRE_FALSE(failed.ok());
    REQUIRE(failed.error().code == ErrorCode::Busy);
    REQUIRE(countEntries(store->tmpDir()) == 0);

    // Mismatches are reported for blobs that are already present too.
    REQUIRE(*store->putBuffer("the real content", claimed) == true);
    auto badPresent = store->putBuffer("forged content!!", claimed);
    REQUIRE_FALSE(badPresent.ok());
    REQUIRE(badPresent.error().code == ErrorCode::InvalidArgument);
    REQUIRE(readTestFile(store->path(claimed)) == "the real content");

    REQUIRE(store->putBuffer("x", "ABC").error().code == ErrorCode::InvalidArgument);
}

TEST_CASE("BlobStore stores from descriptors and files", "[store][blobstore]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    std::string content(3 * Sha256::kChunkBytes + 7, 'q');
    content[12345] = 'z';
    std::string hash = Sha256::hashBuffer(content);
    writeTestFile(tmp / "input", content);

    {
        UniqueFd fd(::open((tmp / "input").c_str(), O_RDONLY | O_CLOEXEC));
        auto put = store->putFd(fd.get(), hash);
        REQUIRE(put.ok());
        REQUIRE(*put == true);
    }
    REQUIRE(readTestFile(store->path(hash)) == content);
    REQUIRE(*store->putFile(tmp / "input", hash) == false);

    std::string other = "other file";
    writeTestFile(tmp / "other", other);
    auto stale = store->putFile(tmp / "other", Sha256::hashBuffer("what the scan saw"));
    REQUIRE_FALSE(stale.ok());
    REQUIRE(stale.error().code == ErrorCode::InvalidArgument);
    REQUIRE(stale.error().message.find("changed") != std::string::npos);
    REQUIRE(*store->putFile(tmp / "other", Sha256::hashBuffer(other)) == true);
    REQUIRE(store->putFile(tmp / "nope", Sha256::hashBuffer("nope")).error().code ==
            ErrorCode::NotFound);
    REQUIRE(countEntries(store->tmpDir()) == 0);
}

TEST_CASE("BlobStore puts of the same blob from several threads store it once",
          "[store][blobstore]") {
    StoreTempDir tmp;
    bool allowTmpfile = GENERATE(true, false);
    auto store = BlobStore::create(tmp / "store", allowTmpfile);
    REQUIRE(store.ok());
    constexpr int kThreads = 8;
    constexpr int kBlobs = 20;
    std::atomic<int> newlyStored{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            BlobStore mine = *store;  // each thread its own copy, as separate daemons would
            for (int i = 0; i < kBlobs; ++i) {
                int b = (i + t) % kBlobs;
                std::string data = blobContent(b);
                auto put = mine.putBuffer(data, Sha256::hashBuffer(data));
                if (!put) {
                    ++failures;
                } else if (*put) {
                    ++newlyStored;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    REQUIRE(failures == 0);
    REQUIRE(newlyStored == kBlobs);
    for (int b = 0; b < kBlobs; ++b) {
        std::string data = blobContent(b);
        REQUIRE(readTestFile(store->path(Sha256::hashBuffer(data))) == data);
    }
    REQUIRE(countEntries(store->tmpDir()) == 0);
}

TEST_CASE("BlobStore puts from a forked process and this one store each blob once",
          "[store][blobstore]") {
    StoreTempDir tmp;
    auto created = BlobStore::create(tmp / "store");
    REQUIRE(created.ok());
    constexpr int kBlobs = 40;
    int pipeFds[2];
    REQUIRE(::pipe(pipeFds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(pipeFds[0]);
        auto store = BlobStore::create(tmp / "store");
        int stored = 0;
        for (int b = 0; b < kBlobs && store; ++b) {
            std::string data = blobContent(b);
            auto put = store->putBuffer(data, Sha256::hashBuffer(data));
            if (!put) {
                ::_exit(2);
            }
            stored += *put ? 1 : 0;
        }
        ssize_t w = ::write(pipeFds[1], &stored, sizeof stored);
        ::_exit(w == sizeof stored ? 0 : 3);
    }
    ::close(pipeFds[1]);
    int storedHere = 0;
    for (int b = kBlobs - 1; b >= 0; --b) {
        std::string data = blobContent(b);
        auto put = created->putBuffer(data, Sha256::hashBuffer(data));
        REQUIRE(put.ok());
        storedHere += *put ? 1 : 0;
    }
    int storedThere = -1;
    REQUIRE(::read(pipeFds[0], &storedThere, sizeof storedThere) == sizeof storedThere);
    ::close(pipeFds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(storedHere + storedThere == kBlobs);
    REQUIRE(countEntries(created->tmpDir()) == 0);
}

namespace {

constexpr std::int64_t kHourMs = 3'600'000;

std::int64_t nowMs() {
    struct timespec t {};
    ::clock_gettime(CLOCK_REALTIME, &t);
    return std::int64_t{t.tv_sec} * 1000 + t.tv_nsec / 1000000;
}

/// Sets the blob file's modification time to ms since the epoch.
void setMtime(const std::string& path, std::int64_t ms) {
    struct timespec times[2] = {{0, UTIME_OMIT}, {ms / 1000, (ms % 1000) * 1000000}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::int64_t mtimeMs(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace

TEST_CASE("retain() and re-uploads make a stored blob recent again", "[store][blobstore][gc]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    const std::string data = "kept by a promise\n";
    const std::string hash = Sha256::hashBuffer(data);
    CHECK_FALSE(store->retain(hash));  // not stored: nothing to promise
    CHECK_FALSE(store->retain("nothex"));
    REQUIRE(store->putBuffer(data, hash).ok());
    const std::string file = store->path(hash);
    const std::int64_t longAgo = nowMs() - 48 * kHourMs;

    // retain() sets the time to now (refreshAfterMs 0: always).
    setMtime(file, longAgo);
    CHECK(store->retain(hash));
    CHECK(mtimeMs(file) > nowMs() - kHourMs);

    // A blob uploaded again is not rewritten, but its time is now too.
    setMtime(file, longAgo);
    auto again = store->putBuffer(data, hash);
    REQUIRE(again.ok());
    CHECK(*again == false);
    CHECK(mtimeMs(file) > nowMs() - kHourMs);

    // So is one that a local ingest finds present.
    writeTestFile(tmp / "copy", data);
    setMtime(file, longAgo);
    auto ingested = store->putFile(tmp / "copy", hash);
    REQUIRE(ingested.ok());
    CHECK(*ingested == false);
    CHECK(mtimeMs(file) > nowMs() - kHourMs);

    // With refreshAfterMs, a time that recent is left alone (no inode write per re-sync).
    store->setRefreshAfterMs(2 * kHourMs);
    const std::int64_t recent = nowMs() - kHourMs;
    setMtime(file, recent);
    CHECK(store->retain(hash));
    CHECK(mtimeMs(file) == recent);
    setMtime(file, longAgo);
    CHECK(store->retain(hash));
    CHECK(mtimeMs(file) > nowMs() - kHourMs);
}

TEST_CASE("removeIfOlder() removes only blobs older than the cutoff", "[store][blobstore][gc]") {
    StoreTempDir tmp;
    auto store = BlobStore::create(tmp / "store");
    REQUIRE(store.ok());
    const std::string oldData = "old and unused\n";
    const std::string newData = "new, maybe still being uploaded\n";
    const std::string oldHash = Sha256::hashBuffer(oldData);
    const std::string newHash = Sha256::hashBuffer(newData);
    REQUIRE(store->putBuffer(oldData, oldHash).ok());
    REQUIRE(store->putBuffer(newData, newHash).ok());
    setMtime(store->path(oldHash), nowMs() - 48 * kHourMs);
    const std::int64_t cutoff = nowMs() - 24 * kHourMs;

    auto dry = store->removeIfOlder(oldHash, cutoff, true);
    REQUIRE(dry.ok());
    CHECK(*dry == std::optional<std::uint64_t>{oldData.size()});
    CHECK(store->has(oldHash));  // a dry run only tells

    auto young = store->removeIfOlder(newHash, cutoff, false);
    REQUIRE(young.ok());
    CHECK_FALSE(young->has_value());
    CHECK(store->has(newHash));

    auto removed = store->removeIfOlder(oldHash, cutoff, false);
    REQUIRE(removed.ok());
    CHECK(*removed == std::optional<std::uint64_t>{oldData.size()});
    CHECK_FALSE(store->has(oldHash));
    auto gone = store->removeIfOlder(oldHash, cutoff, false);
    REQUIRE(gone.ok());
    CHECK_FALSE(gone->has_value());
}
