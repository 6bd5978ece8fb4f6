#pragma once
// EdgeDaemon: fetchml-httpsd's life cycle (DESIGN.md §1): command line → settings → logging →
// certificate and TLS context → D-Bus call pool → listen → READY=1 → Asio loop until SIGTERM
// or SIGINT → graceful stop (no new connections, requests in flight finish, at most
// kStopGrace) → STOPPING=1 → exit 0.
//
// Files it writes: <tls_dir>/{cert.pem,key.pem,fingerprint} (see Certificate) and
// <runtime_dir>/https.port, the bound port in decimal plus "\n", written atomically once the
// socket listens (tests and scripts/dev-stack use https.port 0 and read it), removed on exit.

#include <chrono>
#include <string>

#include "core/Config.hpp"
#include "core/Settings.hpp"

namespace fetchml::edge {

/// The daemon.
class EdgeDaemon {
public:
    /// How long a graceful stop may take before open connections are dropped.
    static constexpr std::chrono::seconds kStopGrace{20};

    /// Program entry: parses argv (--config, --set, --check-config, --version), loads the
    /// settings and runs. Returns the exit code (0 after a clean stop, 1 on start-up errors).
    static int main(int argc, char** argv);

    /// settings: the loaded configuration; options: how it was loaded, so SIGHUP can load it
    /// again the same way.
    EdgeDaemon(Settings settings, LoadOptions options)
        : settings_(std::move(settings)), options_(std::move(options)) {}

    /// Runs until stopped by a signal. Start-up errors are logged once; returns 1 then.
    int run();

private:
    /// SIGHUP: loads the configuration again and applies the log level; on an error the old
    /// settings stay. Listening address, TLS and paths need a restart.
    void reload();

    Settings settings_;
    LoadOptions options_;
};

}  // namespace fetchml::edge
