#include "EdgeDaemon.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "Certificate.hpp"
#include "EventHub.hpp"
#include "HttpServer.hpp"
#include "SchedulerClient.hpp"
#include "TlsContext.hpp"
#include "UploadSpool.hpp"
#include "core/Config.hpp"
#include "core/DaemonCli.hpp"
#include "core/Log.hpp"
#include "sys/Notify.hpp"
#include "sys/Seccomp.hpp"

namespace fetchml::edge {

namespace {

std::string hostName() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) {
        return "localhost";
    }
    return name;
}

/// Writes "<port>\n" to <runtime_dir>/https.port through a renamed temporary file.
bool writePortFile(const std::string& path, std::uint16_t port) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << "\n";
        if (!out.flush()) {
            return false;
        }
    }
    return ::rename(tmp.c_str(), path.c_str()) == 0;
}

/// The server's options from the settings. Errors: InvalidArgument for a bad https.allowlist,
/// a zero timeout or a zero header cap.
Result<HttpServerOptions> serverOptions(const HttpsSettings& https) {
    auto allowlist = IpAllowlist::parse(https.allowlist);
    if (!allowlist) {
        return allowlist.error();
    }
    for (auto [value, key] : {std::pair{https.headerTimeoutS, "header_timeout_s"},
                              std::pair{https.idleTimeoutS, "idle_timeout_s"},
                              std::pair{https.readTimeoutS, "read_timeout_s"},
                              std::pair{https.maxHeaderBytes, "max_header_bytes"}}) {
        if (value == 0) {
            return makeError(ErrorCode::InvalidArgument,
                             std::string("https.") + key + " must be at least 1");
        }
    }
    if (https.wsMaxMessageBytes == 0) {
        return makeError(ErrorCode::InvalidArgument,
                         "https.ws_max_message_bytes must be at least 1");
    }
    HttpServerOptions options;
    options.allowlist = std::move(allowlist.value());
    options.limits = RateLimits{https.rateLimitPerMinute, https.authFailuresPerMinute};
    options.address = https.address;
    options.port = https.port;
    options.maxBodyBytes = https.maxBodyBytes;
    options.maxJsonBytes = https.maxJsonBytes;
    options.maxHeaderBytes = https.maxHeaderBytes;
    options.connections = ConnectionLimits{https.maxConnections, https.maxConnectionsPerAddress};
    options.headerTimeout = std::chrono::seconds(https.headerTimeoutS);
    options.idleTimeout = std::chrono::seconds(https.idleTimeoutS);
    options.readTimeout = std::chrono::seconds(https.readTimeoutS);
    options.spoolDir = UploadSpool::directory(https.spoolDir);
    options.wsMaxMessageBytes = https.wsMaxMessageBytes;
    return options;
}

/// Arms the watchdog keep-alive at a quarter of WATCHDOG_USEC, from the loop.
void armWatchdog(boost::asio::steady_timer& timer, std::chrono::microseconds interval) {
    timer.expires_after(interval / 4);
    timer.async_wait([&timer, interval](const boost::system::error_code& ec) {
        if (!ec) {
            notifyWatchdog();
            armWatchdog(timer, interval);
        }
    });
}

}  // namespace

int EdgeDaemon::main(int argc, char** argv) {
    CLI::App app{"FetchML HTTPS edge"};
    DaemonCli cli(app, "fetchml-httpsd");
    CLI11_PARSE(app, argc, argv);
    if (auto code = cli.handleInfoFlags(std::cout, std::cerr)) {
        return *code;
    }
    auto settings = loadSettings(cli.loadOptions());
    if (!settings) {
        std::cerr << "fetchml-httpsd: " << settings.error().message << "\n";
        return 1;
    }
    Settings resolved = resolvePaths(std::move(settings.value()));
    setupLogging(resolved.log, "fetchml-httpsd");
    return EdgeDaemon(std::move(resolved), cli.loadOptions()).run();
}

int EdgeDaemon::run() {
    auto log = logger("edge");
    const HttpsSettings& https = settings_.https;
    auto options = serverOptions(https);
    if (!options) {
        log->critical("{}", options.error().message);
        return 1;
    }
    auto cert = Certificate::ensure(https, hostName());
    if (!cert) {
        log->critical("TLS certificate: {}", cert.error().message);
        return 1;
    }
    log->info("TLS certificate {} ({}), SHA-256 fingerprint {}", cert->certFile,
              cert->generated ? "generated" : "loaded", cert->fingerprint);
    auto tls = TlsContext::create(cert->certFile, cert->keyFile);
    if (!tls) {
        log->critical("TLS: {}", tls.error().message);
        return 1;
    }
    std::unique_ptr<SchedulerClient> scheduler;
    try {
        scheduler = std::make_unique<SchedulerClient>(settings_.scheduler.bus, https.threads);
    } catch (const sdbus::Error& e) {
        log->critical("cannot connect to the {} bus: {}", settings_.scheduler.bus, e.what());
        return 1;
    }

    boost::asio::io_context io(1);
    // JobChanged signals for GET /v1/events, on their own bus connection and thread.
    std::unique_ptr<EventHub> events;
    try {
        events = std::make_unique<EventHub>(io, settings_.scheduler.bus);
    } catch (const sdbus::Error& e) {
        log->critical("cannot watch job events on the {} bus: {}", settings_.scheduler.bus,
                      e.what());
        return 1;
    }
    options->events = events.get();
    HttpServer server(io, tls->get(), *scheduler, std::move(options.value()));
    auto port = server.listen();
    if (!port) {
        log->critical("{}", port.error().message);
        return 1;
    }
    std::string portFile = settings_.paths.runtimeDir + "/https.port";
    if (!writePortFile(portFile, port.value())) {
        log->critical("cannot write {}", portFile);
        return 1;
    }
    log->info("listening on {}:{}", https.address, port.value());
    server.start();

    boost::asio::steady_timer deadline(io);
    boost::asio::steady_timer watchdog(io);
    boost::asio::signal_set hangups(io, SIGHUP);
    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) {
            return;
        }
        log->info("signal {}: stopping, finishing requests in flight", signal);
        notifyStopping();
        deadline.expires_after(kStopGrace);
        deadline.async_wait([&](const boost::system::error_code& timerEc) {
            if (!timerEc) {
                log->warn("requests still open after {}s: dropping them", kStopGrace.count());
                io.stop();
            }
        });
        server.shutdown([&] {
            deadline.cancel();
            watchdog.cancel();
            hangups.cancel();
            io.stop();  // drained: what is left (unanswered WebSocket closes) ends with us
        });
    });
    // SIGHUP reloads (STYLE.md 7): validate the new configuration, keep the old on failure.
    std::function<void()> waitHangup = [&] {
        hangups.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) {
                return;
            }
            reload();
            waitHangup();
        });
    };
    waitHangup();
    if (auto usec = watchdogIntervalUsec(); usec > 0) {
        armWatchdog(watchdog, std::chrono::microseconds(usec));
    }
    ::signal(SIGPIPE, SIG_IGN);
    // Least privilege (docs/security.md): start-up is done (certificate, socket, bus
    // connections, threads), so from here on only a network service's system calls, in every
    // thread (TSYNC), and no new privileges.
    if (https.seccomp) {
#if defined(__SANITIZE_ADDRESS__)
        // LeakSanitizer's exit-time check stops the world with ptrace, which hangs under the
        // filter; in sanitizer builds the edge's leak check runs here, once, instead.
        __lsan_do_leak_check();
#endif
        auto filter = SeccompFilter::allowing(SeccompFilter::networkServiceSyscalls());
        auto installed = filter ? filter->install() : Result<void>(filter.error());
        if (!installed) {
            log->critical("{}", installed.error().message);
            return 1;
        }
        log->info("seccomp allow-list installed, no-new-privileges set");
    } else {
        log->warn("https.seccomp is off: no system call filter");
    }
    notifyReady("listening on " + https.address + ":" + std::to_string(port.value()));
    io.run();
    // Join the D-Bus threads while the loop still exists: after a forced stop their last
    // answers are posted to it (and dropped with it).
    scheduler.reset();
    ::unlink(portFile.c_str());
    log->info("stopped");
    return 0;
}

void EdgeDaemon::reload() {
    auto log = logger("edge");
    auto settings = loadSettings(options_);
    if (!settings) {
        log->error("reload refused, keeping the running configuration: {}",
                   settings.error().message);
        return;
    }
    settings_.log = settings->log;
    setupLogging(settings_.log, "fetchml-httpsd");
    log->info("reloaded {}: log level {}; listening, TLS and path changes need a restart",
              options_.path, settings_.log.level);
}

}  // namespace fetchml::edge
