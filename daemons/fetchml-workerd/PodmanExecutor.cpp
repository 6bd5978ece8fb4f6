#include "PodmanExecutor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "CdiDevices.hpp"
#include "ChildSpawn.hpp"
#include "PodmanCommand.hpp"
#include "core/Log.hpp"

namespace fetchml {
namespace {

std::shared_ptr<spdlog::logger> log() {
    return logger("worker.exec");
}

}  // namespace

PodmanExecutor::PodmanExecutor(sd_event* event, WorkerSettings worker, std::string runsRoot,
                               Emit emit)
    : event_(event),
      worker_(std::move(worker)),
      runsRoot_(std::move(runsRoot)),
      emit_(std::move(emit)) {}

PodmanExecutor::~PodmanExecutor() {
    reapSource_.reset();
    helpers_.clear();
    deadSources_.clear();
}

Result<void> PodmanExecutor::init() {
    sd_event_source* src = nullptr;
    int r = sd_event_add_defer(event_, &src, &PodmanExecutor::onReap, this);
    if (r < 0) {
        return makeError(ErrorCode::Internal,
                         std::string("sd_event_add_defer: ") + std::strerror(-r));
    }
    reapSource_.reset(src);
    sd_event_source_set_enabled(src, SD_EVENT_OFF);
    return {};
}

void PodmanExecutor::run(const nlohmann::json& message) {
    const auto job = message.value("job", nlohmann::json::object());
    std::string id;
    if (job.is_object() && job.contains("id") && job["id"].is_string()) {
        id = job["id"].get<std::string>();
    }
    auto spec = parseRunSpec(job, runsRoot_);
    if (!spec) {
        if (isSafeName(id) && jobs_.count(id) == 0) {
            emitExited(id, -1, 0, "error", spec.error().message);
        } else {
            emit_({{"type", "error"}, {"message", spec.error().message}});
        }
        return;
    }
    if (jobs_.count(id) != 0) {
        emit_({{"type", "error"}, {"id", id}, {"message", "job " + id + " is already running"}});
        return;
    }
    if (stopping_) {
        emitExited(id, -1, 0, "error", "fetchml-workerd is stopping");
        return;
    }
    if (jobs_.size() >= worker_.slots) {
        emitExited(id, -1, 0, "error", "no free slot");
        return;
    }
    if (auto problem = gpuProblem(*spec); !problem.empty()) {
        emitExited(id, -1, 0, "error", problem);
        return;
    }
    auto proc = std::make_unique<JobProcess>(event_, std::move(*spec), *this);
    if (auto r = proc->start(worker_); !r) {
        log()->error("job {}: cannot start: {}", id, r.error().message);
        emitExited(id, -1, 0, "error", r.error().message);
        deadJobs_.push_back(std::move(proc));
        scheduleReap();
        return;
    }
    log()->info("job {}: started podman (pid {})", id, proc->pid());
    emit_({{"type", "started"},
           {"id", id},
           {"container", PodmanCommand::containerName(proc->spec())}});
    jobs_[id] = std::move(proc);
}

void PodmanExecutor::cancel(const std::string& id) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        emit_({{"type", "error"}, {"id", id}, {"message", "cancel: no running job " + id}});
        return;
    }
    log()->info("job {}: cancelling", id);
    it->second->stop("cancelled", "cancelled", worker_.cancelGraceS);
}

void PodmanExecutor::updateSettings(WorkerSettings worker) {
    if (worker.rootfsDir.empty()) {
        worker.rootfsDir = worker_.rootfsDir;
    }
    worker_ = std::move(worker);
}

std::vector<std::string> PodmanExecutor::runningIds() const {
    std::vector<std::string> ids;
    for (const auto& [id, job] : jobs_) {
        ids.push_back(id);
    }
    return ids;
}

std::vector<std::string> PodmanExecutor::gpus() const {
    if (!worker_.gpus.empty()) {
        return worker_.gpus;
    }
    auto scan = detectCdiGpus(worker_.cdiSpecDirs);
    for (const auto& problem : scan.problems) {
        log()->warn("CDI spec skipped: {}", problem);
    }
    return scan.gpus;
}

std::string PodmanExecutor::gpuProblem(const RunSpec& spec) const {
    if (spec.gpus.empty()) {
        return "";
    }
    const auto offered = gpus();
    for (const auto& device : spec.gpus) {
        if (std::find(offered.begin(), offered.end(), device) == offered.end()) {
            return "GPU " + device + " is not offered by this worker";
        }
        for (const auto& [other, job] : jobs_) {
            const auto& held = job->spec().gpus;
            if (std::find(held.begin(), held.end(), device) != held.end()) {
                return "GPU " + device + " is in use by job " + other;
            }
        }
    }
    return "";
}

nlohmann::json PodmanExecutor::capacity() const {
    long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    long pages = ::sysconf(_SC_PHYS_PAGES);
    long pageSize = ::sysconf(_SC_PAGESIZE);
    std::uint64_t mib = pages > 0 && pageSize > 0
                            ? static_cast<std::uint64_t>(pages) *
                                  static_cast<std::uint64_t>(pageSize) / (1024 * 1024)
                            : 0;
    const long cpus = worker_.cpus != 0 ? long{worker_.cpus} : std::max(online, 1L);
    if (worker_.memoryMib != 0) {
        mib = worker_.memoryMib;
    }
    return {{"slots", worker_.slots}, {"cpus", cpus}, {"memory_mib", mib}, {"gpus", gpus()}};
}

void PodmanExecutor::shutdown(std::function<void()> done) {
    stopping_ = true;
    done_ = std::move(done);
    for (auto& [id, job] : jobs_) {
        log()->info("job {}: stopping with the worker", id);
        job->stop("error", "fetchml-workerd is stopping", worker_.cancelGraceS);
    }
    scheduleReap();  // checks for "nothing left" from the loop
}

void PodmanExecutor::jobMetric(JobProcess& job, std::int64_t step, const Metric& metric) {
    emit_({{"type", "metric"}, {"id", job.id()}, {"step", step}, {"values", metric.values}});
}

void PodmanExecutor::jobStopDue(JobProcess& job) {
    // When the container does not exist yet this fails; the grace period's kill follows.
    spawnHelper(PodmanCommand::killArgs(job.spec(), worker_, "TERM"), job.id(), false);
}

void PodmanExecutor::jobKillDue(JobProcess& job) {
    log()->warn("job {}: still running after {} s; podman kill", job.id(), worker_.cancelGraceS);
    spawnHelper(PodmanCommand::killArgs(job.spec(), worker_, "KILL"), job.id(), true);
}

void PodmanExecutor::spawnHelper(const std::vector<std::string>& argv, const std::string& jobId,
                                 bool killsJob) {
    auto pid = spawnChild(argv, ChildIo{}, childEnvironment());
    sd_event_source* src = nullptr;
    if (!pid ||
        sd_event_add_child(event_, &src, *pid, WEXITED, &PodmanExecutor::onHelperExit, this) < 0) {
        log()->error("job {}: cannot run podman {}; killing podman", jobId, argv.at(1));
        auto it = jobs_.find(jobId);
        if (killsJob && it != jobs_.end()) {
            it->second->killProcess();
        }
        return;
    }
    helpers_[*pid] = Helper{jobId, killsJob, SdEventSourcePtr(src)};
}

void PodmanExecutor::jobExited(JobProcess& job, int exitCode, int signal) {
    log()->info("job {}: exited (code {}, signal {}, reason {})", job.id(), exitCode, signal,
                job.reason());
    emitExited(job.id(), exitCode, signal, job.reason(), job.message());
    if (signal != 0 || job.reason() != "exited") {
        // podman run was killed itself, or the job was stopped (cancel, timeout, shutdown):
        // podman may have left its container behind (seen when its run root was
        // misconfigured: it exits 0 on SIGTERM while the container runs on), so remove it.
        spawnHelper(PodmanCommand::removeArgs(job.spec(), worker_), job.id(), false);
    }
    auto it = jobs_.find(job.id());
    if (it != jobs_.end()) {
        deadJobs_.push_back(std::move(it->second));
        jobs_.erase(it);
    }
    scheduleReap();
}

void PodmanExecutor::emitExited(const std::string& id, int exitCode, int signal,
                                const std::string& reason, const std::string& message) {
    nlohmann::json msg = {{"type", "exited"},
                          {"id", id},
                          {"exit_code", exitCode},
                          {"signal", signal},
                          {"reason", reason}};
    if (!message.empty()) {
        msg["message"] = message;
    }
    emit_(msg);
}

void PodmanExecutor::scheduleReap() {
    if (reapSource_) {
        sd_event_source_set_enabled(reapSource_.get(), SD_EVENT_ONESHOT);
    }
}

void PodmanExecutor::checkDone() {
    if (stopping_ && done_ && jobs_.empty() && helpers_.empty()) {
        auto done = std::move(done_);
        done_ = nullptr;
        done();
    }
}

int PodmanExecutor::onReap(sd_event_source*, void* userdata) {
    auto* self = static_cast<PodmanExecutor*>(userdata);
    self->deadJobs_.clear();
    self->deadSources_.clear();
    self->checkDone();
    return 0;
}

int PodmanExecutor::onHelperExit(sd_event_source*, const siginfo_t* info, void* userdata) {
    auto* self = static_cast<PodmanExecutor*>(userdata);
    auto it = self->helpers_.find(info->si_pid);
    if (it == self->helpers_.end()) {
        return 0;
    }
    auto job = self->jobs_.find(it->second.jobId);
    if (it->second.killsJob && job != self->jobs_.end() && job->second->alive()) {
        // podman kill has done its part; podman run itself may still wait: end it.
        job->second->killProcess();
    }
    self->deadSources_.push_back(std::move(it->second.source));
    self->helpers_.erase(it);
    self->scheduleReap();
    return 0;
}

}  // namespace fetchml
