#include "JobProcess.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>

#include "ChildSpawn.hpp"
#include "PodmanCommand.hpp"

namespace fetchml {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kDrainLimit = 16u << 20;  // bytes read from a file in one go
constexpr const char* kLogFile = "output.log";
constexpr const char* kMetricsFile = "metrics.jsonl";

Error sysError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

// mkdir that accepts an existing directory but not a symlink or other file in its place.
Result<void> makeDir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        return sysError("cannot create " + path);
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return makeError(ErrorCode::Internal, path + " is not a directory");
    }
    // Exactly `mode` whatever the umask: fetchmld (group) must be able to prune what is in it.
    if (st.st_uid == ::getuid() && (st.st_mode & 07777 & ~S_ISGID) != mode) {
        ::chmod(path.c_str(), mode | (st.st_mode & S_ISGID));
    }
    return {};
}

void writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;  // a full disk loses log bytes; the job keeps running
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads what was appended to fd since tail.offset (from the start again when the file is
// shorter than that: truncated and rewritten), at most kDrainLimit bytes, and hands each
// complete line to onLine. A line longer than LineBuffer holds is dropped. Returns true when
// it stopped at the limit, false when it reached the end of the file.
bool readAppended(int fd, FileTail& tail, const std::function<void(const std::string&)>& onLine) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < tail.offset) {
        tail = FileTail();
    }
    char buf[kReadChunk];
    std::size_t total = 0;
    while (total < kDrainLimit) {
        ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(tail.offset));
        if (n <= 0) {
            return false;
        }
        tail.offset += static_cast<std::uint64_t>(n);
        total += static_cast<std::size_t>(n);
        tail.lines.append(buf, static_cast<std::size_t>(n));
        while (auto line = tail.lines.next()) {
            onLine(*line);
        }
        if (tail.lines.overflowed()) {
            tail.lines = LineBuffer();  // a very long line is log, not a metric
        }
    }
    return true;
}

// The file's writer has ended: its unterminated last line, if any, is a line too.
void endTail(FileTail& tail, const std::function<void(const std::string&)>& onLine) {
    tail.lines.append("\n", 1);
    while (auto line = tail.lines.next()) {
        onLine(*line);
    }
}

}  // namespace

JobProcess::JobProcess(sd_event* event, RunSpec spec, Listener& listener)
    : event_(event), spec_(std::move(spec)), listener_(listener) {}

JobProcess::~JobProcess() {
    // Sources first: their callbacks point at this object.
    inotifySource_.reset();
    childSource_.reset();
    timeoutTimer_.reset();
    killTimer_.reset();
    ::unlink(PodmanCommand::envFilePath(spec_).c_str());
}

Result<void> JobProcess::start(const WorkerSettings& worker) {
    graceS_ = worker.cancelGraceS;
    if (auto r = prepareDirectories(); !r) {
        return r;
    }
    auto fail = [this](const Error& e) -> Result<void> {
        notice(e.message);
        return e;
    };
    if (auto r = writeEnvFile(); !r) {
        return fail(r.error());
    }
    if (auto r = watchFiles(); !r) {
        return fail(r.error());
    }
    if (auto r = spawn(worker); !r) {
        return fail(r.error());
    }
    std::uint64_t limit = spec_.maxRuntimeS != 0 ? spec_.maxRuntimeS : worker.maxRuntimeS;
    if (limit != 0) {
        armTimer(timeoutTimer_, limit, &JobProcess::onTimeout);
    }
    return {};
}

Result<void> JobProcess::prepareDirectories() {
    for (const char* sub : {"/results", "/logs"}) {
        if (auto r = makeDir(spec_.runDir + sub, 0770); !r) {
            return r;
        }
    }
    auto path = spec_.runDir + "/logs/" + kLogFile;
    log_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!log_) {
        return sysError("cannot open " + path);
    }
    logRead_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (!logRead_ || ::fstat(logRead_.get(), &st) != 0) {
        return sysError("cannot read " + path);
    }
    logTail_.offset = static_cast<std::uint64_t>(st.st_size);  // metric lines of this run only
    return {};
}

Result<void> JobProcess::writeEnvFile() {
    auto path = PodmanCommand::envFilePath(spec_);
    ::unlink(path.c_str());
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        return sysError("cannot create " + path);
    }
    auto content = PodmanCommand::envFileContent(spec_);
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
        return sysError("cannot write " + path);
    }
    return {};
}

Result<void> JobProcess::watchFiles() {
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_) {
        return sysError("inotify_init1");
    }
    auto log = spec_.runDir + "/logs/" + kLogFile;
    logWatch_ = ::inotify_add_watch(inotify_.get(), log.c_str(), IN_MODIFY);
    if (logWatch_ < 0) {
        return sysError("cannot watch " + log);
    }
    auto dir = spec_.runDir + "/results";
    if (::inotify_add_watch(inotify_.get(), dir.c_str(),
                            IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        return sysError("cannot watch " + dir);
    }
    sd_event_source* src = nullptr;
    int r = sd_event_add_io(event_, &src, inotify_.get(), EPOLLIN, &JobProcess::onInotify, this);
    if (r < 0) {
        return makeError(ErrorCode::Internal, std::string("sd_event_add_io: ") + std::strerror(-r));
    }
    inotifySource_.reset(src);
    return {};
}

Result<void> JobProcess::spawn(const WorkerSettings& worker) {
    // The log file is podman's stdout and stderr, and with `--log-driver passthrough` the
    // container's: what the job writes lands in the file with no process in between, so none
    // of it is lost when podman or this worker goes away (a pipe through podman's attach
    // socket lost the output of short jobs: decisions.md "Job output goes straight to its
    // log"). One open file description with O_APPEND: lines interleave as they were written.
    auto pid = spawnChild(PodmanCommand::runArgs(spec_, worker), ChildIo{log_.get(), log_.get()},
                          childEnvironment());
    if (!pid) {
        return pid.error();
    }
    pid_ = *pid;
    sd_event_source* src = nullptr;
    int r = sd_event_add_child(event_, &src, pid_, WEXITED, &JobProcess::onChild, this);
    if (r < 0) {
        // Cannot watch it: do not leave an unsupervised container behind.
        ::kill(pid_, SIGKILL);
        return makeError(ErrorCode::Internal,
                         std::string("sd_event_add_child: ") + std::strerror(-r));
    }
    childSource_.reset(src);
    return {};
}

void JobProcess::armTimer(SdEventSourcePtr& timer, std::uint64_t seconds,
                          sd_event_time_handler_t cb) {
    sd_event_source* src = nullptr;
    std::uint64_t usec = seconds > UINT64_MAX / 1000000 ? UINT64_MAX - 1 : seconds * 1000000;
    if (sd_event_add_time_relative(event_, &src, CLOCK_MONOTONIC, usec, 0, cb, this) >= 0) {
        timer.reset(src);
    }
}

void JobProcess::stop(const std::string& reason, const std::string& message, std::uint32_t graceS) {
    if (!alive() || stopping_) {
        return;
    }
    stopping_ = true;
    reason_ = reason;
    message_ = message;
    notice(message + "; sending SIGTERM");
    listener_.jobStopDue(*this);
    armTimer(killTimer_, graceS, &JobProcess::onKillDue);
}

void JobProcess::killProcess() {
    if (alive()) {
        ::kill(pid_, SIGKILL);
    }
}

void JobProcess::notice(std::string_view text) {
    if (log_) {
        std::string line = "[fetchml-workerd] ";
        line.append(text);
        line += '\n';
        writeAll(log_.get(), line);
    }
}

void JobProcess::readLog(bool atExit) {
    auto onLine = [this](const std::string& line) { handleOutputLine(line); };
    if (readAppended(logRead_.get(), logTail_, onLine)) {
        // Far behind a job that writes faster than the loop reads: skip to the end (the
        // bytes stay in the log; metrics.jsonl is the channel that never skips).
        struct stat st {};
        if (::fstat(logRead_.get(), &st) == 0) {
            logTail_.offset = std::max(logTail_.offset, static_cast<std::uint64_t>(st.st_size));
        }
        logTail_.lines = LineBuffer();
    }
    if (atExit) {
        endTail(logTail_, onLine);
    }
}

void JobProcess::handleOutputLine(const std::string& line) {
    if (auto metric = MetricParser::parseLine(line)) {
        emitMetric(*metric);
    } else if (line.rfind("Error: ", 0) == 0) {
        podmanError_ = line.substr(7);
    }
}

void JobProcess::readMetricsFile(bool atExit) {
    auto onLine = [this](const std::string& line) {
        if (auto metric = MetricParser::parseJsonLine(line)) {
            emitMetric(*metric);
        }
    };
    auto path = spec_.runDir + "/results/" + kMetricsFile;
    // O_NOFOLLOW and the S_ISREG check: the container owns results/ and could plant a
    // symlink to a host file or a FIFO there.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
        readAppended(fd.get(), metricsTail_, onLine);
    }
    if (atExit) {
        endTail(metricsTail_, onLine);
    }
}

void JobProcess::emitMetric(const Metric& metric) {
    std::int64_t step = metric.step ? *metric.step : lastStep_ + 1;
    lastStep_ = step;
    listener_.jobMetric(*this, step, metric);
}

void JobProcess::finish(const siginfo_t& info) {
    exited_ = true;
    // Everything the container wrote is in the log now (its processes have ended): read the
    // rest, then the metrics file.
    readLog(true);
    readMetricsFile(true);
    inotifySource_.reset();
    timeoutTimer_.reset();
    killTimer_.reset();

    int exitCode = 0;
    int signal = 0;
    if (info.si_code == CLD_EXITED) {
        exitCode = info.si_status;
    } else {
        signal = info.si_status;
        exitCode = 128 + signal;
    }
    if (!stopping_ && exitCode >= 125 && exitCode <= 127 && !podmanError_.empty()) {
        reason_ = "error";
        message_ = podmanError_;
    }
    ::unlink(PodmanCommand::envFilePath(spec_).c_str());
    listener_.jobExited(*this, exitCode, signal);
}

int JobProcess::onInotify(sd_event_source*, int fd, std::uint32_t, void* userdata) {
    auto* self = static_cast<JobProcess*>(userdata);
    alignas(inotify_event) char buf[4096];
    bool metrics = false;
    bool log = false;
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            if (ev->wd == self->logWatch_) {
                log = true;
            } else if (ev->len > 0 && std::strcmp(ev->name, kMetricsFile) == 0) {
                metrics = true;
            }
            p += sizeof(inotify_event) + ev->len;
        }
    }
    if (log) {
        self->readLog(false);
    }
    if (metrics) {
        self->readMetricsFile(false);
    }
    return 0;
}

int JobProcess::onChild(sd_event_source*, const siginfo_t* info, void* userdata) {
    static_cast<JobProcess*>(userdata)->finish(*info);
    return 0;
}

int JobProcess::onTimeout(sd_event_source*, std::uint64_t, void* userdata) {
    auto* self = static_cast<JobProcess*>(userdata);
    std::uint64_t limit = self->spec_.maxRuntimeS;
    self->stop("timeout",
               "maximum run time reached" +
                   (limit != 0 ? " (" + std::to_string(limit) + " s)" : std::string()),
               self->graceS_);
    return 0;
}

int JobProcess::onKillDue(sd_event_source*, std::uint64_t, void* userdata) {
    auto* self = static_cast<JobProcess*>(userdata);
    if (self->alive()) {
        self->notice("grace period over; killing the container");
        self->listener_.jobKillDue(*self);
    }
    return 0;
}

}  // namespace fetchml
