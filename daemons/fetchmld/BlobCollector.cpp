#include "BlobCollector.hpp"

#include <cstring>
#include <tuple>

#include "Job.hpp"
#include "store/Manifest.hpp"

namespace fetchml {

namespace {

// The roots of the store besides the grace period: each query yields ids of recorded trees
// that are kept, with every blob they name, however old they are. ?1 is a JSON array of job
// seqs to count as gone (those a dry run of prune would remove). This is the one list of them:
// every job's code, results and dataset trees, pins, and every dataset version.
constexpr const char* kRootSources[] = {
    "SELECT commit_id FROM jobs WHERE seq NOT IN (SELECT value FROM json_each(?1))",
    "SELECT results FROM jobs WHERE seq NOT IN (SELECT value FROM json_each(?1))",
    "SELECT target FROM pins",
    "SELECT tree FROM dataset_versions",
    "SELECT json_extract(d.value, '$.tree') FROM jobs j, json_each(j.data) d "
    "WHERE j.data != '[]' AND j.seq NOT IN (SELECT value FROM json_each(?1))",
    // Sweeps accepted but not expanded into jobs yet (their plan, JobStore::reserveSweep).
    "SELECT json_extract(pending, '$.spec.commit') FROM sweeps WHERE pending != ''",
    "SELECT json_extract(d.value, '$.tree') FROM sweeps s, json_each(s.pending, '$.spec.data') d "
    "WHERE s.pending != ''",
};

// Records read per mark round, and blobs per sweep round: each round is short (a handful of
// manifests, or a few hundred stat(2) calls), and step() checks its budget between rounds.
constexpr int kMarkRows = 16;
constexpr std::size_t kSweepBlobs = 256;

int hexValue(char c) {
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

}  // namespace

std::size_t BlobCollector::DigestHash::operator()(const Digest& d) const {
    std::size_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);  // a SHA-256 is uniform already
    return h;
}

BlobCollector::Digest BlobCollector::digestOf(const std::string& hex) {
    Digest d{};
    for (std::size_t i = 0; i < d.size() && 2 * i + 1 < hex.size(); ++i) {
        d[i] = static_cast<std::uint8_t>(hexValue(hex[2 * i]) << 4 | hexValue(hex[2 * i + 1]));
    }
    return d;
}

Result<void> BlobCollector::start(bool dryRun, const std::vector<std::string>& leavingJobs) {
    dryRun_ = dryRun;
    cutoffMs_ = clock_() - graceMs_;
    dropped_.clear();
    markedRowid_ = 0;
    marked_ = false;
    live_.clear();
    cursor_.reset();
    report_ = {};
    auto chosen = dryRun ? dropUnrooted(leavingJobs)
                         : db_.transaction([&] { return dropUnrooted(leavingJobs); });
    if (!chosen) {
        report_ = {};
        return chosen;
    }
    return {};
}

Result<void> BlobCollector::dropUnrooted(const std::vector<std::string>& leavingJobs) {
    std::string leaving = "[";
    for (const auto& id : leavingJobs) {
        leaving += (leaving.size() > 1 ? "," : "") + std::to_string(seqFromJobId(id));
    }
    leaving += "]";
    std::string roots;
    for (const char* source : kRootSources) {
        roots += (roots.empty() ? "" : " UNION ALL ") + std::string(source);
    }
    auto select = db_.prepare(
        "SELECT id, kind FROM commits WHERE created_at <= ?2 AND id NOT IN (" + roots + ")");
    if (!select) {
        return select.error();
    }
    (*select)->bind(1, leaving).bind(2, cutoffMs_);
    if (auto r = (*select)->forEachRow(
            [&](const Statement& row) { report_.trees.emplace_back(row.text(0), row.text(1)); });
        !r) {
        return r;
    }
    for (const auto& [id, kind] : report_.trees) {
        if (dryRun_) {
            dropped_.insert(id);
            continue;
        }
        auto del = db_.prepare("DELETE FROM commits WHERE id = ?");
        if (!del) {
            return del.error();
        }
        if (auto r = (*del)->bind(1, id).run(); !r) {
            return r;
        }
    }
    return {};
}

Result<bool> BlobCollector::markSome() {
    auto stmt = db_.prepare(
        "SELECT rowid, id, manifest FROM commits WHERE rowid > ? ORDER BY rowid LIMIT " +
        std::to_string(kMarkRows));
    if (!stmt) {
        return stmt.error();
    }
    std::vector<std::tuple<std::int64_t, std::string, std::string>> rows;
    if (auto r = (*stmt)->bind(1, markedRowid_).forEachRow([&](const Statement& row) {
            rows.emplace_back(row.int64(0), row.text(1), row.text(2));
        });
        !r) {
        return r.error();
    }
    if (rows.empty()) {
        marked_ = true;
        return true;
    }
    for (const auto& [rowid, id, text] : rows) {
        markedRowid_ = rowid;
        if (dropped_.count(id) != 0) {
            continue;
        }
        auto manifest = Manifest::parse(text);
        if (!manifest) {
            // Unreadable: its blobs cannot be told, so none may go.
            return makeError(ErrorCode::InvalidArgument,
                             "recorded tree " + id + " does not parse (" +
                                 manifest.error().message + "): no blob was removed");
        }
        for (const auto& hash : manifest->blobHashes()) {
            live_.insert(digestOf(hash));
        }
    }
    return false;
}

Result<bool> BlobCollector::sweepSome() {
    if (!cursor_) {
        cursor_.emplace(store_);
    }
    std::vector<std::string> batch;
    auto walked = cursor_->next(batch, kSweepBlobs);
    if (!walked) {
        return walked.error();
    }
    if (*walked == 0) {
        return true;
    }
    for (const auto& hash : batch) {
        if (live_.count(digestOf(hash)) != 0) {
            continue;
        }
        // Checked and removed in one call, on fetchmld's one thread: nothing can vouch for
        // the blob between the check of its time and the unlink.
        auto removed = store_.removeIfOlder(hash, cutoffMs_, dryRun_);
        if (!removed) {
            return removed.error();
        }
        if (*removed) {
            ++report_.blobsRemoved;
            report_.bytesFreed += **removed;
            if (!dryRun_) {
                // Where its chunks lay (ChunkedFiles): no longer a source of chunks.
                auto forget = db_.prepare("DELETE FROM file_chunks WHERE file = ?");
                if (!forget) {
                    return forget.error();
                }
                if (auto r = (*forget)->bind(1, hash).run(); !r) {
                    return r.error();
                }
            }
        }
    }
    return false;
}

Result<bool> BlobCollector::step(std::chrono::milliseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    for (;;) {
        const bool sweeping = marked_;
        if (sweeping && !dryRun_ && !sweepLock_) {
            // Blobs go only while no backup reads the store (StoreLock.hpp).
            auto lock = StoreLock::tryLock(store_.root(), StoreLock::Mode::Exclusive);
            if (!lock || !*lock) {
                live_ = {};
                cursor_.reset();
                if (!lock) {
                    return lock.error();
                }
                report_.sweepSkipped =
                    "a backup (fetchmlctl backup) is reading the store; the blobs no record "
                    "names any more are removed by the next prune";
                return true;
            }
            sweepLock_ = std::move(**lock);
        }
        auto done = sweeping ? sweepSome() : markSome();
        if (!done) {
            live_ = {};
            cursor_.reset();
            sweepLock_.reset();
            return done.error();
        }
        if (sweeping && *done) {
            live_ = {};  // frees the mark's memory
            cursor_.reset();
            sweepLock_.reset();
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
    }
}

Result<GcReport> BlobCollector::run(bool dryRun, const std::vector<std::string>& leavingJobs) {
    if (auto started = start(dryRun, leavingJobs); !started) {
        return started.error();
    }
    for (;;) {
        auto done = step(std::chrono::milliseconds(100));
        if (!done) {
            return done.error();
        }
        if (*done) {
            return report_;
        }
    }
}

}  // namespace fetchml
