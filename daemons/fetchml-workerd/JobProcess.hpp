#pragma once
// JobProcess: one running job: its `podman run` child, whose stdout and stderr (and, with
// podman's passthrough log driver, the container's) are <run_dir>/logs/output.log itself; the
// watches that read new lines of that log and of results/metrics.jsonl for metrics; and its
// timers (max run time, cancel grace). All sources live on the worker's sd-event loop.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "MetricParser.hpp"
#include "RunSpec.hpp"
#include "core/Result.hpp"
#include "core/Settings.hpp"
#include "proto/LineBuffer.hpp"
#include "sys/SdEvent.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

/// How far a file that a job appends to (its log, results/metrics.jsonl) has been read: the
/// byte offset and the partial last line.
struct FileTail {
    std::uint64_t offset = 0;
    LineBuffer lines;
};

/// State and event sources of one running job. Not copyable or movable: sources point at it.
class JobProcess {
public:
    /// What the owner (PodmanExecutor) is told. Calls happen from loop callbacks.
    class Listener {
    public:
        virtual ~Listener() = default;
        /// A metric line was seen; step is filled in (previous step + 1 when the line had none).
        virtual void jobMetric(JobProcess& job, std::int64_t step, const Metric& metric) = 0;
        /// stop() was called: the container is to get SIGTERM (`podman kill --signal TERM`;
        /// not a signal to podman run, whose rootless wrapper may exit 0 on it and leave the
        /// container running).
        virtual void jobStopDue(JobProcess& job) = 0;
        /// The grace period after SIGTERM ended and podman is still running.
        virtual void jobKillDue(JobProcess& job) = 0;
        /// podman exited; exitCode is its exit status (128+signal when killed by a signal, then
        /// signal is set, else 0). All output and metrics have been read. The listener may not
        /// destroy the job inside this call (sd-event still reaps the child afterwards).
        virtual void jobExited(JobProcess& job, int exitCode, int signal) = 0;
    };

    /// Binds the job to the loop; start() does the work.
    JobProcess(sd_event* event, RunSpec spec, Listener& listener);
    ~JobProcess();
    JobProcess(const JobProcess&) = delete;
    JobProcess& operator=(const JobProcess&) = delete;

    /// Creates results/ and logs/ (0770), opens logs/output.log (append, 0640) as podman's
    /// stdout and stderr, writes the env file (0600), starts `podman run`
    /// (PodmanCommand::runArgs) and arms the max-run-time timer (job's max_runtime_s, else
    /// worker.max_runtime_s). Errors: Internal with the failing step and strerror; the message
    /// is also appended to the log when it is open.
    Result<void> start(const WorkerSettings& worker);

    /// Asks the job to end: jobStopDue (SIGTERM to the container), then jobKillDue after
    /// graceS seconds. reason ("cancelled", "timeout", "error") and message
    /// are reported at exit. A second call while stopping does nothing.
    void stop(const std::string& reason, const std::string& message, std::uint32_t graceS);

    /// SIGKILL to the podman process (after `podman kill` has been tried).
    void killProcess();

    /// Appends a worker notice "[fetchml-workerd] <text>\n" to the job's log.
    void notice(std::string_view text);

    const RunSpec& spec() const { return spec_; }
    const std::string& id() const { return spec_.id; }
    pid_t pid() const { return pid_; }
    /// True until podman has exited.
    bool alive() const { return pid_ > 0 && !exited_; }
    /// Reason for the exit message: set by stop(), or "error" when podman could not start
    /// the container (exit 125-127 with an "Error: " line from podman), else "exited".
    const std::string& reason() const { return reason_; }
    /// Human sentence for reason error/cancelled/timeout; "" otherwise.
    const std::string& message() const { return message_; }

private:
    Result<void> prepareDirectories();
    Result<void> writeEnvFile();
    Result<void> spawn(const WorkerSettings& worker);
    Result<void> watchFiles();
    void armTimer(SdEventSourcePtr& timer, std::uint64_t seconds, sd_event_time_handler_t cb);

    // Read what was appended to the log / results/metrics.jsonl since the last call and emit
    // its metrics; atExit: the job has ended, so an unterminated last line counts too.
    void readLog(bool atExit);
    void handleOutputLine(const std::string& line);
    void readMetricsFile(bool atExit);
    void emitMetric(const Metric& metric);
    void finish(const siginfo_t& info);

    static int onInotify(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
    static int onChild(sd_event_source* s, const siginfo_t* info, void* userdata);
    static int onTimeout(sd_event_source* s, std::uint64_t usec, void* userdata);
    static int onKillDue(sd_event_source* s, std::uint64_t usec, void* userdata);

    sd_event* event_;
    RunSpec spec_;
    Listener& listener_;
    std::uint32_t graceS_ = 10;
    pid_t pid_ = -1;
    bool exited_ = false;
    bool stopping_ = false;
    std::string reason_ = "exited";
    std::string message_;
    std::string podmanError_;  // last "Error: ..." line in the log (podman's own, at exit 125-127)
    std::int64_t lastStep_ = -1;

    UniqueFd log_;      // O_APPEND: podman's stdout and stderr, and notice()
    UniqueFd logRead_;  // the same file, read for metric lines
    FileTail logTail_;
    UniqueFd inotify_;
    int logWatch_ = -1;
    FileTail metricsTail_;

    SdEventSourcePtr inotifySource_;
    SdEventSourcePtr childSource_;
    SdEventSourcePtr timeoutTimer_;
    SdEventSourcePtr killTimer_;
};

}  // namespace fetchml
