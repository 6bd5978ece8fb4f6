#include "TreeSync.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>

#include "ChunkedUpload.hpp"
#include "ProgressLine.hpp"
#include "store/ChunkList.hpp"
#include "store/FastCdc.hpp"
#include "store/Pack.hpp"

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
                          {"seconds", seconds}};
}

Result<Manifest> scanTree(const std::string& dir) {
    auto manifest = Manifest::scan(dir);
    if (!manifest) {
        return manifest.error();
    }
    for (const auto& skipped : manifest->skipped()) {
        std::fprintf(stderr, "fetchmlctl: skipped %s (%s)\n", skipped.path.c_str(),
                     skipped.reason.c_str());
    }
    return manifest;
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
