#include "TreeSync.hpp"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>

#include "BackupFiles.hpp"
#include "ChunkCache.hpp"
#include "ChunkedUpload.hpp"
#include "ProgressLine.hpp"
#include "store/ChunkList.hpp"
#include "store/FastCdc.hpp"
#include "store/Pack.hpp"
#include "store/Sha256.hpp"
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

// The real path of dir (the chunk cache's key), or dir itself when it cannot be resolved.
std::string realPath(const std::string& dir) {
    char* real = ::realpath(dir.c_str(), nullptr);
    if (real == nullptr) {
        return dir;
    }
    std::string out = real;
    std::free(real);
    return out;
}

// MissingChunks for the blobs of uploads and the bases of their deltas.
Result<ChunksMissing> askMissingChunks(Transport& transport,
                                       const std::vector<ChunkedUpload>& uploads,
                                       SyncSummary& summary) {
    std::vector<std::string> hashes;
    std::vector<std::string> bases;
    for (const auto& upload : uploads) {
        for (const auto& blob : upload.blobs) {
            hashes.push_back(blob.sha256);
        }
        if (!upload.base.empty()) {
            bases.push_back(upload.base);
        }
    }
    summary.chunkListBytes += (hashes.size() + bases.size()) * Sha256::kHexDigits;
    auto answer = transport.missingChunks(hashes, bases);
    if (!answer) {
        return withContext(answer.error(), "asking the server which chunks it lacks");
    }
    return answer;
}

// PutChunkedFile for one upload.
Result<nlohmann::json> assembleChunked(Transport& transport, const ChunkedUpload& upload,
                                       SyncSummary& summary) {
    const std::string parts = formatFileParts(upload.parts);
    summary.chunkListBytes += parts.size();
    auto assembled = transport.putChunkedFile(upload.sha256, upload.size, parts, upload.base);
    if (!assembled) {
        return withContext(
            assembled.error(),
            "assembling " + upload.path + " from " + count(upload.parts.size(), "part") +
                (upload.base.empty() ? ""
                                     : " (a delta against " + upload.base.substr(0, 12) + ")"));
    }
    return assembled;
}

// One PutBlobs call per pack. fetchmld's PutBlobs reads the pack with PackReader, which
// hands every blob to BlobStore::put: written to a temporary file, verified, fsync'd, linked
// into objects/ and the directory fsync'd before the next blob is read. PutBlobs answers only
// after the whole pack was read, so when it returns every blob of the pack is durable and
// MissingBlobs (BlobStore::has) no longer lists it: a later sync resumes after the last
// completed pack (and even blobs verified before a failure stay stored). chunkBytes (in/out)
// adds the bytes of chunk and piece blobs sent.
Result<void> sendPacks(Transport& transport, const std::string& dir,
                       const std::vector<PackPlan>& packs, const SyncOptions& options,
                       SyncSummary& summary, std::uint64_t& chunkBytes) {
    std::uint64_t totalBytes = 0;
    std::uint64_t totalBlobs = 0;
    for (const auto& pack : packs) {
        totalBytes += pack.bytes;
        totalBlobs += pack.blobs.size();
    }
    summary.blobsMissing += totalBlobs;
    const std::uint64_t bytesStart = summary.bytesSent;
    const std::uint64_t blobsStart = summary.blobsSent;
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
        const std::uint64_t bytesBefore = summary.bytesSent - bytesStart;
        const std::uint64_t blobsBefore = summary.blobsSent - blobsStart;
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
        for (const auto& blob : plan.blobs) {
            chunkBytes += blob.chunk ? blob.size : 0;
        }
        progress.update(summary.bytesSent - bytesStart, summary.blobsSent - blobsStart);
    }
    progress.finish();
    return {};
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
                          {"delta_files", deltaFiles},
                          {"chunk_list_bytes", chunkListBytes},
                          {"bytes_reused", bytesReused},
                          {"files_hashed", filesHashed},
                          {"bytes_hashed", bytesHashed},
                          {"seconds", seconds}};
}

std::string statCacheDir(const char* xdgCacheHome, const char* home) {
    return userCacheDir(xdgCacheHome, home, "trees");
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
        // New directories 0700: the cache says what files a user has.
        Result<void> saved = makeDirs(cacheDir, 0700);
        if (saved) {
            saved = cache.save(cacheFile, scanStart);
        }
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
    ChunkCache cache(options.useChunkCache
                         ? chunkCacheDir(std::getenv("XDG_CACHE_HOME"), std::getenv("HOME"))
                         : std::string(),
                     realPath(dir));
    std::vector<ChunkedUpload> uploads;
    if (!largeMissing.empty()) {
        for (const auto& entry : largeMissing) {
            // A delta against the version this client sent last, when it still knows it.
            auto previous = cache.load(entry.path);
            const bool delta = previous && previous->sha256 != entry.sha256;
            auto upload = prepareChunkedUpload(dir, entry, delta ? &*previous : nullptr);
            if (!upload) {
                return upload.error();
            }
            uploads.push_back(std::move(*upload));
        }
        auto chunksMissing = askMissingChunks(transport, uploads, summary);
        if (!chunksMissing) {
            return chunksMissing.error();
        }
        // A delta whose base the server does not store goes as a full chunk list after all.
        std::vector<ChunkedUpload> redone;
        for (std::size_t i = 0; i < uploads.size(); ++i) {
            const auto& gone = chunksMissing->basesMissing;
            if (!uploads[i].base.empty() &&
                std::find(gone.begin(), gone.end(), uploads[i].base) != gone.end()) {
                auto full = prepareChunkedUpload(dir, largeMissing[i], nullptr);
                if (!full) {
                    return full.error();
                }
                uploads[i] = std::move(*full);
                redone.push_back(uploads[i]);
            }
        }
        if (!redone.empty()) {
            auto more = askMissingChunks(transport, redone, summary);
            if (!more) {
                return more.error();
            }
            chunksMissing->missing.insert(chunksMissing->missing.end(), more->missing.begin(),
                                          more->missing.end());
        }
        for (auto& pack :
             planPacks(missingChunkBlobs(uploads, chunksMissing->missing), options.maxPackBytes)) {
            packs.push_back(std::move(pack));
        }
    }
    std::uint64_t chunkBytesSent = 0;
    if (auto sent = sendPacks(transport, dir, packs, options, summary, chunkBytesSent); !sent) {
        return sent;
    }

    for (std::size_t i = 0; i < uploads.size(); ++i) {
        ChunkedUpload& upload = uploads[i];
        auto assembled = assembleChunked(transport, upload, summary);
        if (!assembled && !upload.base.empty() &&
            (assembled.error().code == ErrorCode::NotFound ||
             assembled.error().code == ErrorCode::InvalidArgument)) {
            // The base went away since MissingChunks, or the cache was wrong about it (the
            // server checks the result's hash): send this file as a full chunk list.
            auto full = prepareChunkedUpload(dir, largeMissing[i], nullptr);
            if (!full) {
                return full.error();
            }
            upload = std::move(*full);
            std::vector<ChunkedUpload> one{upload};
            auto more = askMissingChunks(transport, one, summary);
            if (!more) {
                return more.error();
            }
            auto extra = planPacks(missingChunkBlobs(one, more->missing), options.maxPackBytes);
            if (auto sent = sendPacks(transport, dir, extra, options, summary, chunkBytesSent);
                !sent) {
                return sent;
            }
            assembled = assembleChunked(transport, upload, summary);
        }
        if (!assembled) {
            return assembled.error();
        }
        summary.chunkedFiles += 1;
        summary.deltaFiles += upload.base.empty() ? 0 : 1;
        summary.bytesReused += upload.size;
        if (auto saved = cache.save(upload.path, upload.fine); !saved) {
            std::fprintf(stderr,
                         "fetchmlctl: chunk cache not written (the next change of %s sends "
                         "its full chunk list): %s\n",
                         upload.path.c_str(), saved.error().message.c_str());
        }
    }
    // The entries of this tree's large files stay; those nobody used for 90 days go.
    std::vector<std::string> largeFiles;
    for (const auto& entry : manifest.entries()) {
        if (entry.size > FastCdc::kChunkedFileBytes) {
            largeFiles.push_back(entry.path);
        }
    }
    cache.keep(largeFiles, static_cast<std::int64_t>(std::time(nullptr)));
    // What of the chunked files was not sent is what the server had already (a delta the
    // server refused sends pieces and then chunks of the same bytes: never below zero).
    summary.bytesReused -= std::min(summary.bytesReused, chunkBytesSent);

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
