#include "TreeSync.hpp"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "ChunkedUpload.hpp"
#include "ProgressLine.hpp"
#include "store/ChunkList.hpp"
#include "store/FastCdc.hpp"
#include "store/Pack.hpp"
#include "store/StatCache.hpp"

namespace fetchml::ctl {

namespace {

Error withContext(const Error& error, const std::string& context) {
    return makeError(error.code, context + ": " + error.message);
}

std::string count(std::size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// "2 files, 1 chunk of big.bin, 123 bytes, first a.txt": what a pack holds, for errors.
std::string describePack(const PackPlan& plan) {
    std::size_t files = 0;
    std::size_t chunks = 0;
    std::string firstFile;
    std::string firstChunked;
    bool severalChunked = false;
    for (const auto& blob : plan.blobs) {
        if (blob.chunk) {
            chunks += 1;
            severalChunked = severalChunked || (!firstChunked.empty() && blob.path != firstChunked);
            firstChunked = firstChunked.empty() ? blob.path : firstChunked;
        } else {
            files += 1;
            firstFile = firstFile.empty() ? blob.path : firstFile;
        }
    }
    std::string out;
    if (files > 0) {
        out += count(files, "file") + ", ";
    }
    if (chunks > 0) {
        out += count(chunks, "chunk") + " of " + firstChunked +
               (severalChunked ? " and other files" : "") + ", ";
    }
    out += std::to_string(plan.bytes) + " bytes";
    if (files > 0) {
        out += ", first " + firstFile;
    }
    return out;
}

// The real-time clock in ns, as the kernel stamps files with it (the coarse clock, which is at
// most the precise one: a stamp taken after this call is never smaller).
std::int64_t fileClockNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// mkdir -p of an absolute path, new directories 0700 (the cache says what files a user has).
bool makeDirs(const std::string& path) {
    for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string part = path.substr(0, slash);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
            return false;
        }
        if (slash == std::string::npos) {
            return true;
        }
    }
}

}  // namespace

std::vector<PackPlan> planPacks(std::vector<PackBlob> blobs, std::uint64_t maxPackBytes) {
    std::vector<PackPlan> packs;
    for (auto& blob : blobs) {
        if (packs.empty() ||
            (!packs.back().blobs.empty() && packs.back().bytes + blob.size > maxPackBytes)) {
            packs.emplace_back();
        }
        packs.back().bytes += blob.size;
        packs.back().blobs.push_back(std::move(blob));
    }
    return packs;
}

std::vector<PackPlan> planPacks(const Manifest& manifest, const std::vector<std::string>& missing,
                                std::uint64_t maxPackBytes) {
    std::set<std::string> wanted(missing.begin(), missing.end());
    std::vector<PackBlob> blobs;
    for (const auto& entry : manifest.entries()) {
        if (wanted.erase(entry.sha256) == 1) {  // else not missing, or planned under another path
            blobs.push_back(PackBlob{entry.sha256, entry.path, entry.size, 0, false});
        }
    }
    return planPacks(std::move(blobs), maxPackBytes);
}

nlohmann::json SyncSummary::toJson() const {
    return nlohmann::json{{"commit", commit},
                          {"files", files},
                          {"bytes", bytes},
                          {"blobs_missing", blobsMissing},
                          {"blobs_sent", blobsSent},
                          {"bytes_sent", bytesSent},
                          {"packs", packs},
                          {"chunked_files", chunkedFiles},
                          {"bytes_reused", bytesReused},
                          {"files_hashed", filesHashed},
                          {"bytes_hashed", bytesHashed},
                          {"seconds", seconds}};
}

std::string statCacheDir(const char* xdgCacheHome, const char* home) {
    if (xdgCacheHome != nullptr && xdgCacheHome[0] == '/') {
        return std::string(xdgCacheHome) + "/fetchml/trees";
    }
    if (home != nullptr && home[0] == '/') {
        return std::string(home) + "/.cache/fetchml/trees";
    }
    return "";
}

std::string statCacheFile(const std::string& cacheDir, const std::string& root) {
    return cacheDir + "/" + StatCache::rootKey(root) + ".cache";
}

Result<Manifest> scanTree(const std::string& dir, const ScanOptions& options, ScanReport* report) {
    // The cache is keyed by the real path, so that "." and /home/me/exp share one.
    std::string cacheFile;
    std::string root;
    if (char* real = ::realpath(dir.c_str(), nullptr); real != nullptr) {
        root = real;
        std::free(real);
        const std::string cacheDir =
            statCacheDir(std::getenv("XDG_CACHE_HOME"), std::getenv("HOME"));
        if (!cacheDir.empty()) {
            cacheFile = statCacheFile(cacheDir, root);
        }
    }
    StatCache cache =
        options.useCache && !cacheFile.empty() ? StatCache::load(cacheFile, root) : StatCache(root);
    const std::int64_t scanStart = fileClockNs();  // before any file is looked at
    auto manifest = Manifest::scan(dir, &cache);
    if (!manifest) {
        return manifest.error();
    }
    for (const auto& skipped : manifest->skipped()) {
        std::fprintf(stderr, "fetchmlctl: skipped %s (%s)\n", skipped.path.c_str(),
                     skipped.reason.c_str());
    }
    if (report != nullptr) {
        report->filesHashed = cache.hashedFiles();
        report->bytesHashed = cache.hashedBytes();
    }
    // Nothing read and nothing dropped: the file on disk already says all this one would
    // (apart from scan-start, which only matters for entries it leaves out).
    const bool unchanged = cache.hashedFiles() == 0 && cache.reusedFiles() == cache.loadedEntries();
    if (!cacheFile.empty() && !unchanged) {
        const std::string cacheDir = cacheFile.substr(0, cacheFile.rfind('/'));
        Result<void> saved = makeDirs(cacheDir)
                                 ? cache.save(cacheFile, scanStart)
                                 : makeError(ErrorCode::Internal, "cannot create " + cacheDir +
                                                                      ": " + std::strerror(errno));
        if (!saved) {
            std::fprintf(stderr,
                         "fetchmlctl: stat cache not written (the next scan hashes "
                         "every file again): %s\n",
                         saved.error().message.c_str());
        }
    }
    return manifest;
}

std::optional<CtlFailure> syncDirectory(Transport& transport, const std::string& dir,
                                        const ScanOptions& scan, const SyncOptions& sync,
                                        SyncSummary& summary) {
    const auto start = std::chrono::steady_clock::now();
    ScanReport report;
    auto manifest = scanTree(dir, scan, &report);
    if (!manifest) {
        return usageFailure(manifest.error().message);
    }
    auto synced = syncTree(transport, *manifest, dir, sync, summary);
    summary.filesHashed = report.filesHashed;
    summary.bytesHashed = report.bytesHashed;
    // The whole operation, scan and hashing included.
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!synced) {
        return failureFrom(synced.error());
    }
    return std::nullopt;
}

bool progressWanted() {
    return ::isatty(STDERR_FILENO) == 1;
}

Result<void> syncTree(Transport& transport, const Manifest& manifest, const std::string& dir,
                      const SyncOptions& options, SyncSummary& summary) {
    const auto start = std::chrono::steady_clock::now();
    struct Clock {
        std::chrono::steady_clock::time_point start;
        SyncSummary& summary;
        ~Clock() {
            summary.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
    } clock{start, summary};
    summary.commit = manifest.commitId();
    summary.files = manifest.entries().size();
    summary.bytes = manifest.totalBytes();

    auto missing = transport.missingBlobs(manifest.blobHashes());
    if (!missing) {
        return withContext(missing.error(), "asking the server which blobs it lacks");
    }
    // Whole files up to kChunkedFileBytes; larger ones go as the chunks the server lacks.
    std::vector<std::string> wholeMissing;
    std::vector<ManifestEntry> largeMissing;
    {
        std::set<std::string> large;
        for (const auto& entry : manifest.entries()) {
            if (entry.size > FastCdc::kChunkedFileBytes) {
                large.insert(entry.sha256);
            }
        }
        std::set<std::string> planned;
        for (const auto& hash : *missing) {
            if (large.count(hash) == 0) {
                wholeMissing.push_back(hash);
            } else {
                planned.insert(hash);
            }
        }
        for (const auto& entry : manifest.entries()) {
            if (planned.erase(entry.sha256) == 1) {
                largeMissing.push_back(entry);
            }
        }
    }
    auto packs = planPacks(manifest, wholeMissing, options.maxPackBytes);
    std::vector<ChunkedUpload> uploads;
    if (!largeMissing.empty()) {
        std::vector<std::string> chunkHashes;
        for (const auto& entry : largeMissing) {
            auto upload = chunkForUpload(dir, entry);
            if (!upload) {
                return upload.error();
            }
            for (const auto& chunk : upload->file.chunks) {
                chunkHashes.push_back(chunk.sha256);
            }
            uploads.push_back(std::move(*upload));
        }
        auto chunksMissing = transport.missingChunks(chunkHashes);
        if (!chunksMissing) {
            return withContext(chunksMissing.error(), "asking the server which chunks it lacks");
        }
        for (auto& pack :
             planPacks(missingChunkBlobs(uploads, *chunksMissing), options.maxPackBytes)) {
            packs.push_back(std::move(pack));
        }
    }
    std::uint64_t totalBytes = 0;
    std::uint64_t totalBlobs = 0;
    for (const auto& pack : packs) {
        totalBytes += pack.bytes;
        totalBlobs += pack.blobs.size();
    }
    summary.blobsMissing = totalBlobs;

    // One PutBlobs call per pack. fetchmld's PutBlobs reads the pack with PackReader, which
    // hands every blob to BlobStore::put: written to a temporary file, verified, fsync'd,
    // linked into objects/ and the directory fsync'd before the next blob is read. PutBlobs
    // answers only after the whole pack was read, so when it returns every blob of the pack
    // is durable and MissingBlobs (BlobStore::has) no longer lists it: a later sync resumes
    // after the last completed pack (and even blobs verified before a failure stay stored).
    ProgressLine progress(options.progress && totalBlobs > 0, totalBytes, totalBlobs);
    for (std::size_t i = 0; i < packs.size(); ++i) {
        const PackPlan& plan = packs[i];
        std::vector<PackItem> items;
        std::vector<std::uint64_t> ends;  // content offset in the pack where each blob ends
        std::uint64_t offset = 0;
        for (const auto& blob : plan.blobs) {
            PackItem item{blob.sha256, dir + "/" + blob.path};
            if (blob.chunk) {
                item.offset = blob.offset;
                item.length = blob.size;
            }
            items.push_back(std::move(item));
            offset += blob.size;
            ends.push_back(offset);
        }
        PackWriter writer(std::move(items));
        const std::uint64_t bytesBefore = summary.bytesSent;
        const std::uint64_t blobsBefore = summary.blobsSent;
        std::size_t done = 0;  // blobs of this pack wholly handed on; content only grows
        writer.onProgress([&](std::uint64_t content) {
            while (done < ends.size() && ends[done] <= content) {
                ++done;
            }
            progress.update(bytesBefore + content, blobsBefore + done);
        });
        auto stored = transport.putBlobs(writer);
        if (!stored) {
            progress.finish();
            return withContext(stored.error(), "sending pack " + std::to_string(i + 1) + " of " +
                                                   std::to_string(packs.size()) + " (" +
                                                   describePack(plan) + ")");
        }
        summary.packs += 1;
        summary.blobsSent += plan.blobs.size();
        summary.bytesSent += plan.bytes;
        progress.update(summary.bytesSent, summary.blobsSent);
    }
    progress.finish();

    for (const auto& upload : uploads) {
        auto assembled = transport.putChunkedFile(upload.file.sha256, upload.file.size,
                                                  formatChunkList(upload.file.chunks));
        if (!assembled) {
            return withContext(assembled.error(), "assembling " + upload.path + " from " +
                                                      count(upload.file.chunks.size(), "chunk"));
        }
        summary.chunkedFiles += 1;
        summary.bytesReused += upload.file.size;
    }
    // What of the chunked files was not sent is what the server had already.
    for (const auto& pack : packs) {
        for (const auto& blob : pack.blobs) {
            summary.bytesReused -= blob.chunk ? blob.size : 0;
        }
    }

    auto commit = transport.putManifest(manifest.text());
    if (!commit) {
        return withContext(commit.error(), "recording the manifest of " + dir);
    }
    if (*commit != summary.commit) {
        return makeError(ErrorCode::Internal, "the server recorded commit " + *commit +
                                                  " for the tree " + dir + " whose id is " +
                                                  summary.commit);
    }
    return {};
}

}  // namespace fetchml::ctl
