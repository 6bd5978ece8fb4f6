// backupServer: the backup half of Backup.hpp.

#include "Backup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "BackupDatabase.hpp"
#include "BackupFiles.hpp"
#include "BackupManifest.hpp"
#include "TextFormat.hpp"
#include "store/BlobStore.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/StoreLock.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

Error ioError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

std::int64_t wallClockMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The manifest of an earlier backup in dir, if it has a readable one.
std::optional<BackupManifest> previousManifest(const std::string& dir) {
    UniqueFd fd(::open((dir + "/" + BackupManifest::kFileName).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    auto parsed = BackupManifest::parse(text);
    if (!parsed) {
        return std::nullopt;
    }
    return std::move(*parsed);
}

Result<void> fsyncFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0) {
        return ioError("syncing " + path);
    }
    return {};
}

// One backup run: the state shared by its steps.
class BackupRun {
public:
    BackupRun(const ServerPaths& server, std::string dir, const BackupOptions& options)
        : server_(server), dir_(std::move(dir)), options_(options) {
        summary_.dir = dir_;
    }

    Result<BackupSummary> run();

private:
    /// Refuses before anything is written when there is no fetchmld database to back up.
    Result<void> checkServer() const;
    Result<void> lockDir();
    /// The store's lock, shared: waits while a garbage collection removes blobs.
    Result<StoreLock> lockStore();
    Result<void> snapshot();
    Result<std::map<std::string, std::string>> referencedBlobs();
    Result<void> copyBlobs(const std::map<std::string, std::string>& referenced);
    Result<void> copyBlob(const std::string& hash, bool referenced);
    Result<void> copyLogs();
    Result<void> copyLog(const std::string& name);
    Result<void> finish();
    Result<void> prune();

    std::string dbTmp() const { return dir_ + "/" + BackupManifest::kDatabaseName + ".tmp"; }

    const ServerPaths& server_;
    std::string dir_;
    BackupOptions options_;
    BackupSummary summary_;
    UniqueFd dirLock_;
    std::optional<BackupManifest> previous_;
    std::optional<BlobStore> source_;
    std::optional<BlobStore> out_;
    BackupManifest manifest_;
    std::vector<std::string> jobIds_;
    std::vector<std::pair<std::string, std::string>> commits_;
};

Result<BackupSummary> BackupRun::run() {
    const auto start = std::chrono::steady_clock::now();
    manifest_.createdMs = options_.clockMs ? options_.clockMs() : wallClockMs();
    if (auto server = checkServer(); !server) {
        return server.error();
    }
    if (auto made = makeDirs(dir_, 0700); !made) {
        return made.error();
    }
    if (auto locked = lockDir(); !locked) {
        return locked.error();
    }
    previous_ = previousManifest(dir_);
    {
        // The database first: the blobs copied afterwards are a superset of what it
        // references. fetchmld's garbage collection removes no blob until they are copied: it
        // needs the store's lock exclusively, held here shared (StoreLock.hpp). The logs need
        // no lock.
        auto storeLock = lockStore();
        if (!storeLock) {
            return storeLock.error();
        }
        if (auto snap = snapshot(); !snap) {
            return snap.error();
        }
        auto referenced = referencedBlobs();
        if (!referenced) {
            return referenced.error();
        }
        if (auto copied = copyBlobs(*referenced); !copied) {
            return copied.error();
        }
    }
    if (auto logs = copyLogs(); !logs) {
        return logs.error();
    }
    if (auto done = finish(); !done) {
        return done.error();
    }
    if (options_.prune) {
        if (auto pruned = prune(); !pruned) {
            return pruned.error();
        }
    }
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
}

Result<void> BackupRun::checkServer() const {
    struct stat st {};
    if (::stat(server_.database.c_str(), &st) == 0) {
        return {};
    }
    if (errno == ENOENT) {
        return makeError(ErrorCode::NotFound, "no fetchmld database at " + server_.database +
                                                  " (is this fetchmld's configuration? see "
                                                  "--server-config)");
    }
    return ioError("reading " + server_.database);
}

Result<void> BackupRun::lockDir() {
    dirLock_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirLock_) {
        return ioError("opening " + dir_);
    }
    if (::flock(dirLock_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            return makeError(ErrorCode::Busy, "another fetchmlctl backup is writing to " + dir_);
        }
        return ioError("locking " + dir_);
    }
    return {};
}

Result<StoreLock> BackupRun::lockStore() {
    auto now = StoreLock::tryLock(server_.storeDir, StoreLock::Mode::Shared);
    if (!now) {
        return now.error();
    }
    if (*now) {
        return std::move(**now);
    }
    if (options_.notice) {
        options_.notice("waiting for the store's garbage collection (fetchmlctl prune) to end");
    }
    return StoreLock::lock(server_.storeDir, StoreLock::Mode::Shared);
}

Result<void> BackupRun::snapshot() {
    auto live = BackupDatabase::open(server_.database, BackupDatabase::Mode::ReadWrite);
    if (!live) {
        if (live.error().code == ErrorCode::NotFound) {
            return makeError(
                ErrorCode::NotFound,
                live.error().message + " (is this fetchmld's configuration? see --server-config)");
        }
        return live.error();
    }
    const std::string tmp = dbTmp();
    for (const char* suffix : {"", "-journal"}) {
        if (auto removed = removeFile(tmp + suffix); !removed) {
            return removed;
        }
    }
    if (auto copied = live->snapshotTo(tmp); !copied) {
        return copied;
    }
    // Only its owner reads it: it holds the users and the hashes of their keys.
    if (::chmod(tmp.c_str(), 0600) != 0) {
        return ioError("chmod of " + tmp);
    }
    if (auto synced = fsyncFile(tmp); !synced) {
        return synced;
    }
    auto snap = BackupDatabase::open(tmp, BackupDatabase::Mode::ReadOnly);
    if (!snap) {
        return snap.error();
    }
    auto ids = snap->jobIds();
    if (!ids) {
        return ids.error();
    }
    jobIds_ = std::move(*ids);
    auto commits = snap->commits();
    if (!commits) {
        return commits.error();
    }
    commits_ = std::move(*commits);
    auto hash = Sha256::hashFile(tmp, &manifest_.databaseSize);
    if (!hash) {
        return hash.error();
    }
    manifest_.databaseSha256 = *hash;
    summary_.databaseBytes = manifest_.databaseSize;
    summary_.jobs = static_cast<std::int64_t>(jobIds_.size());
    summary_.commits = commits_.size();
    return {};
}

// Blob hash → the first commit (by id) of the snapshot that names it.
Result<std::map<std::string, std::string>> BackupRun::referencedBlobs() {
    std::map<std::string, std::string> referenced;
    for (const auto& [id, text] : commits_) {
        auto manifest = Manifest::parse(text);
        if (!manifest) {
            return makeError(ErrorCode::Internal,
                             "commit " + id + " of the database: " + manifest.error().message);
        }
        for (auto& hash : manifest->blobHashes()) {
            referenced.emplace(std::move(hash), id);
        }
    }
    return referenced;
}

Result<void> BackupRun::copyBlobs(const std::map<std::string, std::string>& referenced) {
    auto source = BlobStore::create(server_.storeDir);
    if (!source) {
        return source.error();
    }
    source_ = std::move(*source);
    auto out = BlobStore::create(dir_ + "/store");
    if (!out) {
        return out.error();
    }
    out_ = std::move(*out);
    auto present = listStoreBlobs(server_.storeDir);
    if (!present) {
        return present.error();
    }
    for (const auto& [hash, commit] : referenced) {
        if (present->count(hash) == 0) {
            return makeError(ErrorCode::InvalidArgument,
                             "blob " + hash + " of commit " + commit + " is not in the store " +
                                 server_.storeDir +
                                 ": blob garbage collection must not run during a backup (run "
                                 "the backup again); if none ran, the store is damaged");
        }
    }
    for (const auto& [hash, size] : *present) {
        (void)size;
        if (auto copied = copyBlob(hash, referenced.count(hash) != 0); !copied) {
            return copied;
        }
    }
    return {};
}

Result<void> BackupRun::copyBlob(const std::string& hash, bool referenced) {
    UniqueFd src(::open(source_->path(hash).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!src) {
        if (errno == ENOENT && !referenced) {
            ++summary_.blobsVanished;  // garbage-collected since it was listed: not needed
            return {};
        }
        if (errno == ENOENT) {
            return makeError(ErrorCode::InvalidArgument,
                             "blob " + hash + " disappeared from the store " + server_.storeDir +
                                 " during the backup, though the database names it: blob "
                                 "garbage collection must not run during a backup");
        }
        return ioError("opening blob " + hash + " of the store " + server_.storeDir);
    }
    struct stat st {};
    if (::fstat(src.get(), &st) != 0) {
        return ioError("stat of blob " + hash);
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    manifest_.blobs.push_back(BackupBlob{hash, size});
    summary_.blobBytes += size;

    const std::string dest = out_->path(hash);
    struct stat have {};
    if (::lstat(dest.c_str(), &have) == 0) {
        bool good = S_ISREG(have.st_mode) && static_cast<std::uint64_t>(have.st_size) == size;
        if (good && options_.verify) {
            auto actual = Sha256::hashFile(dest);
            good = actual && *actual == hash;
        }
        if (good) {
            ++summary_.blobsSkipped;
            return {};
        }
        // A damaged copy (a partial file cannot be one: blobs are linked in whole).
        if (auto removed = removeFile(dest); !removed) {
            return removed;
        }
        ++summary_.blobsReplaced;
    }
    auto stored = out_->putFd(src.get(), hash);
    if (!stored) {
        if (stored.error().code == ErrorCode::InvalidArgument) {
            return makeError(ErrorCode::InvalidArgument,
                             "the store's copy of blob " + hash + " is damaged (" +
                                 stored.error().message + "); the backup was not completed");
        }
        return stored.error();
    }
    ++summary_.blobsCopied;
    summary_.bytesCopied += size;
    return {};
}

Result<void> BackupRun::copyLogs() {
    const std::set<std::string> jobs(jobIds_.begin(), jobIds_.end());
    std::vector<std::string> names;
    {
        std::unique_ptr<DIR, int (*)(DIR*)> runs(::opendir(server_.runsDir.c_str()), ::closedir);
        if (!runs) {
            if (errno == ENOENT) {
                return {};
            }
            return ioError("listing " + server_.runsDir);
        }
        while (dirent* e = ::readdir(runs.get())) {
            std::string name = e->d_name;
            // <id>, and earlier attempts' <id>.attemptN and <id>.stale, of the snapshot's jobs.
            if (jobs.count(name.substr(0, name.find('.'))) != 0 &&
                BackupManifest::isValidLogPath("runs/" + name + "/logs/output.log")) {
                names.push_back(std::move(name));
            }
        }
    }
    std::unordered_map<std::string, const BackupLog*> before;
    if (previous_) {
        for (const auto& log : previous_->logs) {
            before.emplace(log.path, &log);
        }
    }
    for (const auto& name : names) {
        const std::string rel = "runs/" + name + "/logs/output.log";
        const std::string path = server_.runsDir + "/" + name + "/logs/output.log";
        UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st {};
        if (!src || ::fstat(src.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;  // no log (the job never started), or not a file
        }
        BackupLog log{
            rel, "", static_cast<std::uint64_t>(st.st_size),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
        // rsync's quick check: same size and mtime as the last backup read, whose copy is
        // still in the backup's store.
        auto it = before.find(rel);
        if (it != before.end() && it->second->size == log.size &&
            it->second->mtimeNs == log.mtimeNs && out_->has(it->second->sha256)) {
            log.sha256 = it->second->sha256;
            manifest_.logs.push_back(std::move(log));
            ++summary_.logs;
            continue;
        }
        const std::string tmp = out_->tmpDir() + "/log-" + std::to_string(::getpid());
        if (auto removed = removeFile(tmp); !removed) {
            return removed;
        }
        auto copy = copyHashed(src.get(), path, tmp, 0444);
        if (!copy) {
            return copy.error();
        }
        const std::string dest = out_->path(copy->sha256);
        auto made = makeDirs(parentDir(dest), 0750);
        if (made && ::rename(tmp.c_str(), dest.c_str()) != 0) {
            made = ioError("renaming " + tmp + " to " + dest);
        }
        if (made) {
            made = fsyncDir(parentDir(dest));
        }
        if (!made) {
            ::unlink(tmp.c_str());
            return made;
        }
        log.sha256 = copy->sha256;
        log.size = copy->size;  // a running job's log may have grown since fstat
        manifest_.logs.push_back(std::move(log));
        ++summary_.logs;
        ++summary_.logsCopied;
        summary_.bytesCopied += copy->size;
    }
    return {};
}

// The snapshot takes its name, then the manifest is written: the last step.
Result<void> BackupRun::finish() {
    const std::string db = dir_ + "/" + BackupManifest::kDatabaseName;
    if (::rename(dbTmp().c_str(), db.c_str()) != 0) {
        return ioError("renaming " + dbTmp() + " to " + db);
    }
    if (auto synced = fsyncDir(dir_); !synced) {
        return synced;
    }
    summary_.blobs = manifest_.blobs.size();
    return writeFileAtomic(dir_ + "/" + BackupManifest::kFileName, manifest_.text(), 0644);
}

Result<void> BackupRun::prune() {
    std::set<std::string> keep;
    for (const auto& b : manifest_.blobs) {
        keep.insert(b.sha256);
    }
    for (const auto& l : manifest_.logs) {
        keep.insert(l.sha256);
    }
    auto held = listStoreBlobs(out_->root());
    if (!held) {
        return held.error();
    }
    for (const auto& [hash, size] : *held) {
        (void)size;
        if (keep.count(hash) == 0) {
            if (auto removed = removeFile(out_->path(hash)); !removed) {
                return removed;
            }
            ++summary_.pruned;
        }
    }
    return {};
}

}  // namespace

ServerPaths ServerPaths::fromSettings(const Settings& resolved) {
    return ServerPaths{resolved.paths.stateDir, resolved.scheduler.database,
                       resolved.paths.storeDir, resolved.paths.stateDir + "/runs"};
}

Result<BackupSummary> backupServer(const ServerPaths& server, const std::string& dir,
                                   const BackupOptions& options) {
    BackupRun run(server, dir, options);
    return run.run();
}

nlohmann::json BackupSummary::toJson() const {
    return nlohmann::json{{"dir", dir},
                          {"database_bytes", databaseBytes},
                          {"jobs", jobs},
                          {"commits", commits},
                          {"blobs", blobs},
                          {"blob_bytes", blobBytes},
                          {"blobs_copied", blobsCopied},
                          {"blobs_skipped", blobsSkipped},
                          {"bytes_copied", bytesCopied},
                          {"blobs_replaced", blobsReplaced},
                          {"blobs_vanished", blobsVanished},
                          {"logs", logs},
                          {"logs_copied", logsCopied},
                          {"pruned", pruned},
                          {"seconds", seconds}};
}

std::string BackupSummary::line() const {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f s", seconds);
    std::string out = "backup " + dir + ": " + plural(static_cast<std::uint64_t>(jobs), "job") +
                      ", database " + humanBytes(databaseBytes) + "; " + plural(blobs, "blob") +
                      " (" + std::to_string(blobsCopied) + " copied, " +
                      std::to_string(blobsSkipped) + " already there), " + humanBytes(bytesCopied) +
                      " copied; " + plural(logs, "log") + " (" + std::to_string(logsCopied) +
                      " copied)";
    if (pruned > 0) {
        out += "; " + std::to_string(pruned) + " pruned";
    }
    return out + " in " + secs;
}

}  // namespace fetchml::ctl
