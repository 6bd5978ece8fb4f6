// bench/scheduler bulk submissions: C concurrent clients, each with its own connection (D-Bus
// or HTTPS keep-alive, through fetchmlctl's own transports), submit N jobs in all; every
// SubmitJob answer comes after fetchmld has committed the job (issue 5 "bulk"). Connections
// are opened and warmed up (Hello) before the clock starts. Prints one line of figures:
//
//   via=dbus clients=8 jobs=4000 errors=0 seconds=2.91 jobs_per_s=1374.6 p50_ms=5.6 p99_ms=11.0
//
// Usage: fetchml-bench-submit --via dbus|https --commit ID [--clients 8] [--jobs 4000]
//                             [--image IMG] [-- CMD...]
// D-Bus uses the system bus (DBUS_SYSTEM_BUS_ADDRESS); HTTPS uses FETCHML_SERVER,
// FETCHML_FINGERPRINT and FETCHML_API_KEY as fetchmlctl does. Never fails on a figure: exits 0
// unless a client cannot connect.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "CtlContext.hpp"
#include "HttpsTransport.hpp"

using namespace fetchml;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    CLI::App app{"Bulk durable job submissions from concurrent clients"};
    std::string via = "dbus", commit, image;
    int clients = 8, jobs = 4000;
    std::vector<std::string> command{"true"};
    app.add_option("--via", via)->check(CLI::IsMember({"dbus", "https"}));
    app.add_option("--commit", commit)->required();
    app.add_option("--clients", clients)->check(CLI::Range(1, 256));
    app.add_option("--jobs", jobs)->check(CLI::PositiveNumber);
    app.add_option("--image", image);
    app.add_option("CMD", command);
    CLI11_PARSE(app, argc, argv);

    // One transport per client, connected and warmed up before the clock starts.
    std::vector<std::unique_ptr<ctl::CtlContext>> contexts;
    std::vector<ctl::Transport*> transports;
    for (int c = 0; c < clients; ++c) {
        auto ctx = std::make_unique<ctl::CtlContext>();
        ctx->https = ctl::makeHttpsTransport;  // what fetchmlctl-full has
        if (via == "dbus") {
            ctx->options.server = "";  // the system bus, whatever FETCHML_SERVER says
        }
        ctl::Outcome failure;
        auto* transport = ctx->transport(failure);
        if (transport == nullptr) {
            std::fprintf(stderr, "fetchml-bench-submit: %s\n", failure->message.c_str());
            return 1;
        }
        if (auto hello = transport->hello(); !hello) {
            std::fprintf(stderr, "fetchml-bench-submit: %s\n", hello.error().message.c_str());
            return 1;
        }
        transports.push_back(transport);
        contexts.push_back(std::move(ctx));
    }

    nlohmann::json request = {{"commit", commit}, {"command", command}, {"priority", 0}};
    if (!image.empty()) {
        request["image"] = image;
    }
    std::atomic<int> next{0}, errors{0};
    std::vector<std::vector<double>> latencies(clients);
    std::latch start(clients + 1);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            start.arrive_and_wait();
            while (next.fetch_add(1) < jobs) {
                auto t0 = Clock::now();
                auto job = transports[c]->submitJob(request);
                latencies[c].push_back(
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                if (!job && errors.fetch_add(1) == 0) {
                    std::fprintf(stderr, "fetchml-bench-submit: %s\n", job.error().message.c_str());
                }
            }
        });
    }
    start.arrive_and_wait();
    auto t0 = Clock::now();
    for (auto& t : threads) {
        t.join();
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    std::vector<double> all;
    for (const auto& l : latencies) {
        all.insert(all.end(), l.begin(), l.end());
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all[static_cast<size_t>(p * (all.size() - 1))]; };
    std::printf(
        "via=%s clients=%d jobs=%d errors=%d seconds=%.3f jobs_per_s=%.1f p50_ms=%.2f "
        "p99_ms=%.2f\n",
        via.c_str(), clients, jobs, errors.load(), seconds, (jobs - errors.load()) / seconds,
        pct(0.5), pct(0.99));
    return 0;
}
