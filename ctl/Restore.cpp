// restoreServer: the restore half of Backup.hpp.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "Backup.hpp"
#include "BackupDatabase.hpp"
#include "BackupFiles.hpp"
#include "BackupManifest.hpp"
#include "TextFormat.hpp"
#include "store/BlobStore.hpp"
#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

Error ioError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

Error damaged(const std::string& what) {
    return makeError(ErrorCode::InvalidArgument,
                     what + "; the backup is damaged, nothing was restored into the database");
}

// Who owns what restore writes: the state directory's owner, when run as root.
struct Owner {
    bool apply = false;
    uid_t uid = 0;
    gid_t gid = 0;

    Result<void> give(const std::string& path) const {
        if (apply && ::lchown(path.c_str(), uid, gid) != 0) {
            return ioError("giving " + path + " to uid " + std::to_string(uid));
        }
        return {};
    }
};

// One restore run: the state shared by its steps.
class RestoreRun {
public:
    RestoreRun(std::string dir, const ServerPaths& server, const RestoreOptions& options)
        : dir_(std::move(dir)), server_(server), options_(options) {
        summary_.dir = dir_;
    }

    Result<RestoreSummary> run();

private:
    Result<void> readManifest();
    Result<void> checkSnapshot();
    Result<void> checkTarget();
    Result<void> restoreBlobs();
    Result<void> checkLogs();
    Result<void> restoreDatabase();
    Result<void> restoreLogs();
    Result<void> restoreLog(const BackupLog& log);
    Result<void> fixStoreOwnership();

    std::string backupDb() const { return dir_ + "/" + BackupManifest::kDatabaseName; }
    /// The backup's copy of a blob (the store layout; read-only use, so no BlobStore that
    /// would create directories on what may be read-only media).
    std::string backupBlob(const std::string& hash) const {
        return dir_ + "/store/objects/sha256/" + hash.substr(0, 2) + "/" + hash.substr(2);
    }

    std::string dir_;
    const ServerPaths& server_;
    RestoreOptions options_;
    RestoreSummary summary_;
    BackupManifest manifest_;
    Owner owner_;
    std::optional<BlobStore> store_;
    // The server's database, held with its exclusive lock while blobs are restored, so that
    // a fetchmld started meanwhile cannot open it.
    std::optional<BackupDatabase> target_;
};

Result<RestoreSummary> RestoreRun::run() {
    const auto start = std::chrono::steady_clock::now();
    for (auto step :
         {&RestoreRun::readManifest, &RestoreRun::checkSnapshot, &RestoreRun::checkTarget,
          &RestoreRun::restoreBlobs, &RestoreRun::checkLogs, &RestoreRun::restoreDatabase,
          &RestoreRun::restoreLogs, &RestoreRun::fixStoreOwnership}) {
        if (auto done = (this->*step)(); !done) {
            return done.error();
        }
    }
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
}

Result<void> RestoreRun::readManifest() {
    const std::string path = dir_ + "/" + BackupManifest::kFileName;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            return makeError(ErrorCode::NotFound,
                             dir_ + " has no " + BackupManifest::kFileName +
                                 ": it is not a backup, or its backup did not finish");
        }
        return ioError("opening " + path);
    }
    std::string text;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    if (n < 0) {
        return ioError("reading " + path);
    }
    auto parsed = BackupManifest::parse(text);
    if (!parsed) {
        return makeError(ErrorCode::InvalidArgument, dir_ + "/" + parsed.error().message);
    }
    manifest_ = std::move(*parsed);
    summary_.blobs = manifest_.blobs.size();
    summary_.blobBytes = manifest_.blobBytes();
    summary_.databaseBytes = manifest_.databaseSize;
    return {};
}

// The snapshot is the one the manifest names (not one a later, unfinished backup left) and
// SQLite finds it sound.
Result<void> RestoreRun::checkSnapshot() {
    std::uint64_t size = 0;
    auto hash = Sha256::hashFile(backupDb(), &size);
    if (!hash) {
        return damaged(hash.error().message);
    }
    if (*hash != manifest_.databaseSha256 || size != manifest_.databaseSize) {
        return damaged(backupDb() + " is not the database " + BackupManifest::kFileName +
                       " lists (" + std::to_string(size) + " bytes, SHA-256 " + *hash +
                       "; a backup into " + dir_ + " may have stopped while it finished)");
    }
    auto snap = BackupDatabase::open(backupDb(), BackupDatabase::Mode::ReadOnly);
    if (!snap) {
        return snap.error();
    }
    if (auto checked = snap->quickCheck(); !checked) {
        return damaged(checked.error().message);
    }
    auto jobs = snap->count("jobs");
    if (!jobs) {
        return jobs.error();
    }
    summary_.jobs = *jobs;
    return {};
}

// fetchmld must not run, and an existing database must be empty unless --force.
Result<void> RestoreRun::checkTarget() {
    struct stat st {};
    if (::stat(server_.stateDir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return makeError(ErrorCode::NotFound,
                         "state directory " + server_.stateDir +
                             " does not exist (systemd-tmpfiles --create makes it; is this "
                             "fetchmld's configuration? see --server-config)");
    }
    owner_.apply = ::geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0);
    owner_.uid = st.st_uid;
    owner_.gid = st.st_gid;
    if (::stat(server_.database.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return {};
        }
        return ioError("stat of " + server_.database);
    }
    auto target = BackupDatabase::open(server_.database, BackupDatabase::Mode::ReadWrite);
    if (!target) {
        return target.error();
    }
    if (auto locked = target->lockExclusive(); !locked) {
        return makeError(locked.error().code,
                         locked.error().message +
                             ": stop fetchmld before a restore (systemctl stop fetchml.target)");
    }
    auto tables = target->tablesWithRows();
    if (!tables) {
        return tables.error();
    }
    if (!tables->empty() && !options_.force) {
        std::string list;
        for (const auto& t : *tables) {
            list += (list.empty() ? "" : ", ") + t;
        }
        return makeError(ErrorCode::InvalidArgument,
                         "database " + server_.database + " already holds data (" + list +
                             "); a restore replaces it: give --force to do so");
    }
    target_ = std::move(*target);
    return {};
}

// Every blob goes through BlobStore::putFd, which hashes it while it copies and stores nothing
// that does not hash to its name (one already stored is read and verified all the same).
Result<void> RestoreRun::restoreBlobs() {
    auto store = BlobStore::create(server_.storeDir);
    if (!store) {
        return store.error();
    }
    store_ = std::move(*store);
    for (const auto& blob : manifest_.blobs) {
        const std::string path = backupBlob(blob.sha256);
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) {
                return damaged("blob " + blob.sha256 + " is missing from " + dir_ + "/store");
            }
            return ioError("opening " + path);
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            return ioError("stat of " + path);
        }
        if (static_cast<std::uint64_t>(st.st_size) != blob.size) {
            return damaged("blob " + blob.sha256 + " in " + dir_ + "/store has " +
                           std::to_string(st.st_size) + " bytes, the manifest says " +
                           std::to_string(blob.size));
        }
        auto stored = store_->putFd(fd.get(), blob.sha256);
        if (!stored) {
            if (stored.error().code == ErrorCode::InvalidArgument) {
                return damaged("blob " + blob.sha256 + " in " + dir_ +
                               "/store is damaged: " + stored.error().message);
            }
            return stored.error();
        }
        ++(*stored ? summary_.blobsStored : summary_.blobsPresent);
    }
    return {};
}

// The logs are checked before the database is replaced, so that a damaged one refuses the
// whole restore; restoreLog checks each again while it copies.
Result<void> RestoreRun::checkLogs() {
    for (const auto& log : manifest_.logs) {
        std::uint64_t size = 0;
        auto hash = Sha256::hashFile(backupBlob(log.sha256), &size);
        if (!hash) {
            return damaged("the copy of " + log.path + ": " + hash.error().message);
        }
        if (*hash != log.sha256 || size != log.size) {
            return damaged("the copy of " + log.path + " (blob " + log.sha256 + ") hashes to " +
                           *hash);
        }
    }
    return {};
}

// Temporary file beside the database, verified and checked by SQLite, then renamed over it
// once the old database's WAL and shared-memory files are gone (an old WAL would be replayed
// into the new file).
Result<void> RestoreRun::restoreDatabase() {
    const std::string tmp = server_.database + ".restore-tmp";
    if (auto removed = removeFile(tmp); !removed) {
        return removed;
    }
    UniqueFd src(::open(backupDb().c_str(), O_RDONLY | O_CLOEXEC));
    if (!src) {
        return ioError("opening " + backupDb());
    }
    auto copy = copyHashed(src.get(), backupDb(), tmp, 0640);
    if (!copy) {
        return copy.error();
    }
    auto fail = [&](Error e) {
        ::unlink(tmp.c_str());
        return e;
    };
    if (copy->sha256 != manifest_.databaseSha256) {
        return fail(damaged(backupDb() + " changed while it was restored"));
    }
    {
        auto restored = BackupDatabase::open(tmp, BackupDatabase::Mode::ReadOnly);
        if (!restored) {
            return fail(restored.error());
        }
        if (auto checked = restored->quickCheck(); !checked) {
            return fail(checked.error());
        }
    }
    if (auto given = owner_.give(tmp); !given) {
        return fail(given.error());
    }
    target_.reset();  // closing it checkpoints and removes the old WAL
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        if (auto removed = removeFile(server_.database + suffix); !removed) {
            return fail(removed.error());
        }
    }
    if (::rename(tmp.c_str(), server_.database.c_str()) != 0) {
        return fail(ioError("renaming " + tmp + " to " + server_.database));
    }
    return fsyncDir(parentDir(server_.database));
}

Result<void> RestoreRun::restoreLogs() {
    for (const auto& log : manifest_.logs) {
        if (auto restored = restoreLog(log); !restored) {
            return restored;
        }
        ++summary_.logs;
    }
    return {};
}

// runs/<dir>/logs/output.log as fetchmld and fetchml-workerd make them: the run directory
// 2770 (the worker writes into it through group fetchml), logs/ 0770, the log 0640.
Result<void> RestoreRun::restoreLog(const BackupLog& log) {
    const std::string runDir = server_.runsDir + "/" + log.path.substr(5, log.path.size() - 5 - 16);
    const std::string logsDir = runDir + "/logs";
    for (const auto& [dir, mode] :
         {std::pair{server_.runsDir, 02770}, std::pair{runDir, 02770}, std::pair{logsDir, 0770}}) {
        struct stat st {};
        if (::lstat(dir.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return ioError("restoring " + log.path);
            }
            continue;
        }
        if (::mkdir(dir.c_str(), 0700) != 0 || ::chmod(dir.c_str(), mode) != 0) {
            return ioError("creating " + dir);
        }
        if (auto given = owner_.give(dir); !given) {
            return given;
        }
    }
    const std::string dest = logsDir + "/output.log";
    const std::string tmp = dest + ".restore-tmp";
    if (auto removed = removeFile(tmp); !removed) {
        return removed;
    }
    UniqueFd src(::open(backupBlob(log.sha256).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!src) {
        return ioError("opening the copy of " + log.path);
    }
    auto copy = copyHashed(src.get(), backupBlob(log.sha256), tmp, 0640);
    if (!copy) {
        return copy.error();
    }
    Result<void> done;
    if (copy->sha256 != log.sha256) {
        done = damaged("the copy of " + log.path + " changed while it was restored");
    } else {
        done = owner_.give(tmp);
    }
    if (done && ::rename(tmp.c_str(), dest.c_str()) != 0) {
        done = ioError("renaming " + tmp + " to " + dest);
    }
    if (!done) {
        ::unlink(tmp.c_str());
    }
    return done;
}

// BlobStore made the directories and files it needed as root: give them to fetchmld's user,
// which must be able to list them and (for garbage collection) remove blobs.
Result<void> RestoreRun::fixStoreOwnership() {
    if (!owner_.apply) {
        return {};
    }
    namespace fs = std::filesystem;
    std::error_code ec;
    auto fix = [&](const fs::path& p) -> Result<void> {
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 && (st.st_uid != owner_.uid || st.st_gid != owner_.gid)) {
            return owner_.give(p.string());
        }
        return {};
    };
    if (auto fixed = fix(server_.storeDir); !fixed) {
        return fixed;
    }
    for (auto it = fs::recursive_directory_iterator(server_.storeDir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (auto fixed = fix(it->path()); !fixed) {
            return fixed;
        }
    }
    if (ec) {
        return makeError(ErrorCode::Internal, "walking " + server_.storeDir + ": " + ec.message());
    }
    return {};
}

}  // namespace

Result<RestoreSummary> restoreServer(const std::string& dir, const ServerPaths& server,
                                     const RestoreOptions& options) {
    RestoreRun run(dir, server, options);
    return run.run();
}

nlohmann::json RestoreSummary::toJson() const {
    return nlohmann::json{{"dir", dir},
                          {"database_bytes", databaseBytes},
                          {"jobs", jobs},
                          {"blobs", blobs},
                          {"blob_bytes", blobBytes},
                          {"blobs_stored", blobsStored},
                          {"blobs_present", blobsPresent},
                          {"logs", logs},
                          {"seconds", seconds}};
}

std::string RestoreSummary::line() const {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f s", seconds);
    return "restored " + dir + ": " + plural(static_cast<std::uint64_t>(jobs), "job") +
           ", database " + humanBytes(databaseBytes) + "; " + plural(blobs, "blob") + " (" +
           std::to_string(blobsStored) + " stored, " + std::to_string(blobsPresent) +
           " already there), " + humanBytes(blobBytes) + "; " + plural(logs, "log") + " in " + secs;
}

}  // namespace fetchml::ctl
