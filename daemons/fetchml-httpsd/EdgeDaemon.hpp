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

    explicit EdgeDaemon(Settings settings) : settings_(std::move(settings)) {}

    /// Runs until stopped by a signal. Start-up errors are logged once; returns 1 then.
    int run();

private:
    Settings settings_;
};

}  // namespace fetchml::edge
