#include "TreeSync.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>

#include "ProgressLine.hpp"
#include "store/Pack.hpp"

namespace fetchml::ctl {

namespace {

Error withContext(const Error& error, const std::string& context) {
    return makeError(error.code, context + ": " + error.message);
}

std::string count(std::size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

std::vector<PackPlan> planPacks(const Manifest& manifest, const std::vector<std::string>& missing,
                                std::uint64_t maxPackBytes) {
    std::set<std::string> wanted(missing.begin(), missing.end());
    std::vector<PackPlan> packs;
    for (const auto& entry : manifest.entries()) {
        if (wanted.erase(entry.sha256) != 1) {
            continue;  // not missing, or already planned under another path
        }
        if (packs.empty() ||
            (!packs.back().blobs.empty() && packs.back().bytes + entry.size > maxPackBytes)) {
            packs.emplace_back();
        }
        packs.back().blobs.push_back(entry);
        packs.back().bytes += entry.size;
    }
    return packs;
}

nlohmann::json SyncSummary::toJson() const {
    return nlohmann::json{{"commit", commit},        {"files", files},
                          {"bytes", bytes},          {"blobs_missing", blobsMissing},
                          {"blobs_sent", blobsSent}, {"bytes_sent", bytesSent},
                          {"packs", packs},          {"seconds", seconds}};
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
    const auto packs = planPacks(manifest, *missing, options.maxPackBytes);
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
            items.push_back(PackItem{blob.sha256, dir + "/" + blob.path});
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
                                                   count(plan.blobs.size(), "file") + ", " +
                                                   std::to_string(plan.bytes) + " bytes, first " +
                                                   plan.blobs.front().path + ")");
        }
        summary.packs += 1;
        summary.blobsSent += plan.blobs.size();
        summary.bytesSent += plan.bytes;
        progress.update(summary.bytesSent, summary.blobsSent);
    }
    progress.finish();

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
