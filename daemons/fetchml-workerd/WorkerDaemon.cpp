#include "WorkerDaemon.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "CdiDevices.hpp"
#include "PodmanExecutor.hpp"
#include "WorkerServer.hpp"
#include "core/Config.hpp"
#include "core/DaemonCli.hpp"
#include "core/Log.hpp"
#include "sys/Notify.hpp"
#include "sys/SdEvent.hpp"

namespace fetchml {
namespace {

std::shared_ptr<spdlog::logger> log() {
    return logger("worker");
}

// Everything the signal sources need, owned by run().
struct StopContext {
    const LoadOptions* options = nullptr;
    sd_event* event = nullptr;
    WorkerServer* server = nullptr;
    PodmanExecutor* executor = nullptr;
    std::uint32_t graceS = 10;
    bool stopping = false;
    SdEventSourcePtr deadline;
};

int onDeadline(sd_event_source*, std::uint64_t, void* userdata) {
    auto* ctx = static_cast<StopContext*>(userdata);
    log()->error("jobs did not end in time; exiting anyway");
    sd_event_exit(ctx->event, 0);
    return 0;
}

int onStopSignal(sd_event_source*, const signalfd_siginfo* info, void* userdata) {
    auto* ctx = static_cast<StopContext*>(userdata);
    if (ctx->stopping) {
        return 0;
    }
    ctx->stopping = true;
    log()->info("signal {}: stopping; running jobs get SIGTERM", info->ssi_signo);
    notifyStopping();
    ctx->server->stopListening();
    sd_event* event = ctx->event;
    ctx->executor->shutdown([event] { sd_event_exit(event, 0); });
    // podman kill and podman's own exit take a few seconds after the grace period.
    sd_event_source* src = nullptr;
    std::uint64_t usec = (static_cast<std::uint64_t>(ctx->graceS) + 30) * 1000000;
    if (sd_event_add_time_relative(event, &src, CLOCK_MONOTONIC, usec, 0, &onDeadline, ctx) >= 0) {
        ctx->deadline.reset(src);
    }
    return 0;
}

int onReload(sd_event_source*, const signalfd_siginfo*, void* userdata) {
    auto* ctx = static_cast<StopContext*>(userdata);
    auto fresh = loadSettings(*ctx->options);
    if (!fresh) {
        log()->error("reload failed, keeping the old settings: {}", fresh.error().message);
        return 0;
    }
    auto settings = resolvePaths(std::move(*fresh));
    setupLogging(settings.log, "fetchml-workerd");
    ctx->graceS = settings.worker.cancelGraceS;
    ctx->executor->updateSettings(settings.worker);
    log()->info("reloaded {}; socket and path changes take effect after a restart",
                settings.sourceFile.empty() ? "(defaults)" : settings.sourceFile);
    return 0;
}

Result<void> makePrivateDir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        return makeError(ErrorCode::Internal,
                         "cannot create " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) {
        return makeError(ErrorCode::Internal,
                         path + " is not a directory owned by uid " + std::to_string(::getuid()));
    }
    if ((st.st_mode & 0777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
        return makeError(ErrorCode::Internal, "cannot chmod " + path);
    }
    return {};
}

}  // namespace

Result<void> WorkerDaemon::preparePodmanEnvironment(const PathSettings& paths) {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
        const passwd* pw = ::getpwuid(::getuid());
        if (pw == nullptr || pw->pw_dir == nullptr) {
            return makeError(
                ErrorCode::Internal,
                "HOME is unset and uid " + std::to_string(::getuid()) + " has no password entry");
        }
        ::setenv("HOME", pw->pw_dir, 1);
    }
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    if (xdg == nullptr || *xdg == '\0') {
        auto dir = paths.runtimeDir + "/podman-" + std::to_string(::getuid());
        if (auto r = makePrivateDir(dir); !r) {
            return r;
        }
        ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
    }
    return {};
}

WorkerDaemon::WorkerDaemon(Settings settings, LoadOptions options)
    : settings_(std::move(settings)), options_(std::move(options)) {
    auto& w = settings_.worker;
    if (w.socket.empty()) {
        w.socket = settings_.paths.runtimeDir + "/worker.sock";
    }
    if (w.rootfsDir.empty()) {
        w.rootfsDir = settings_.paths.stateDir + "/rootfs";
    }
}

int WorkerDaemon::run() {
    for (const auto& device : settings_.worker.gpus) {
        if (!isCdiDeviceName(device)) {
            log()->critical(
                "worker.gpus: '{}' is not a CDI device name (vendor/class=name, "
                "e.g. nvidia.com/gpu=0)",
                device);
            return 1;
        }
    }
    if (auto r = preparePodmanEnvironment(settings_.paths); !r) {
        log()->critical("{}", r.error().message);
        return 1;
    }
    // sd-event needs these blocked before it can watch them (sd_event_add_signal(3),
    // sd_event_add_child(3)); children get a clean mask from spawnChild.
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) {
        sigaddset(&mask, sig);
    }
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    sd_event* raw = nullptr;
    if (int r = sd_event_default(&raw); r < 0) {
        log()->critical("sd_event_default: {}", std::strerror(-r));
        return 1;
    }
    SdEventPtr event(raw);
    WorkerServer server(event.get(), settings_.worker);
    PodmanExecutor executor(event.get(), settings_.worker, settings_.paths.stateDir + "/runs",
                            [&server](const nlohmann::json& m) { server.broadcast(m); });
    server.setExecutor(&executor);
    StopContext ctx{&options_, event.get(), &server, &executor, settings_.worker.cancelGraceS,
                    false,     {}};
    SdEventSourcePtr sigterm;
    SdEventSourcePtr sigint;
    SdEventSourcePtr sighup;
    for (auto [sig, slot] :
         {std::pair{SIGTERM, &sigterm}, std::pair{SIGINT, &sigint}, std::pair{SIGHUP, &sighup}}) {
        sd_event_source* src = nullptr;
        auto handler = sig == SIGHUP ? &onReload : &onStopSignal;
        if (int r = sd_event_add_signal(event.get(), &src, sig, handler, &ctx); r < 0) {
            log()->critical("sd_event_add_signal: {}", std::strerror(-r));
            return 1;
        }
        slot->reset(src);
    }
    if (auto r = executor.init(); !r) {
        log()->critical("{}", r.error().message);
        return 1;
    }
    if (auto r = server.listen(); !r) {
        log()->critical("worker socket: {}", r.error().message);
        return 1;
    }
    // Pings WATCHDOG=1 from the loop when WATCHDOG_USEC is set (sd_event_set_watchdog(3)).
    sd_event_set_watchdog(event.get(), 1);
    log()->info("listening on {}; {} slots, runtime {}, GPUs {}, XDG_RUNTIME_DIR={}",
                server.address(), settings_.worker.slots, settings_.worker.runtime,
                executor.capacity()["gpus"].dump(), std::getenv("XDG_RUNTIME_DIR"));
    notifyReady("serving " + std::to_string(settings_.worker.slots) + " slots");
    int r = sd_event_loop(event.get());
    if (r < 0) {
        log()->critical("event loop: {}", std::strerror(-r));
        return 1;
    }
    log()->info("stopped");
    return 0;
}

int runWorker(int argc, char** argv) {
    CLI::App app{"FetchML executor: runs jobs in rootless podman for fetchmld"};
    DaemonCli cli(app, "fetchml-workerd");
    CLI11_PARSE(app, argc, argv);
    if (auto code = cli.handleInfoFlags(std::cout, std::cerr)) {
        return *code;
    }
    auto settings = loadSettings(cli.loadOptions());
    if (!settings) {
        std::cerr << "fetchml-workerd: " << settings.error().message << "\n";
        return 1;
    }
    setupLogging(settings->log, "fetchml-workerd");
    WorkerDaemon daemon(resolvePaths(std::move(*settings)), cli.loadOptions());
    return daemon.run();
}

}  // namespace fetchml
