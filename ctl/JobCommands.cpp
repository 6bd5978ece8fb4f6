// `fetchmlctl logs ID [-f]` and `fetchmlctl cancel ID | --sweep ID`.

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "Commands.hpp"

namespace fetchml::ctl {

namespace {

struct LogsArgs {
    std::string id;
    bool follow = false;
};

struct CancelArgs {
    std::string id;
    std::string sweep;
    bool json = false;
};

constexpr std::uint32_t kLogChunk = 1u << 20;  // bytes per ReadLog, the server's maximum

Outcome runLogs(CtlContext& ctx, const LogsArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    std::uint64_t offset = 0;
    while (true) {
        auto chunk = transport->readLog(args.id, offset, kLogChunk);
        if (!chunk) {
            return failureFrom(chunk.error());
        }
        std::cout << chunk->data << std::flush;
        offset = chunk->offset;
        if (chunk->eof) {
            return std::nullopt;
        }
        if (chunk->data.empty()) {
            if (!args.follow) {
                return std::nullopt;
            }
            // decisions.md: fetchmlctl has no event loop; -f polls once a second.
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    }
}

/// `cancel --sweep ID`: one line per job the call changed, "<id> cancelled|stopping|unreachable".
Outcome runCancelSweep(Transport& transport, const CancelArgs& args) {
    auto answer = transport.cancelSweep(args.sweep);
    if (!answer) {
        return failureFrom(answer.error());
    }
    if (args.json) {
        printJson(*answer);
        return std::nullopt;
    }
    std::size_t changed = 0;
    for (const char* field : {"cancelled", "stopping", "unreachable"}) {
        for (const auto& id : answer->value(field, nlohmann::json::array())) {
            std::cout << (id.is_string() ? id.get<std::string>() : id.dump()) << " " << field
                      << "\n";
            ++changed;
        }
    }
    if (changed == 0) {
        // A notice, not an error: cancelling what has ended changes nothing and succeeds.
        std::fprintf(stderr, "sweep %s: no job left to cancel (every job has ended)\n",
                     args.sweep.c_str());
    }
    const auto unreachable = answer->value("unreachable", nlohmann::json::array());
    if (!unreachable.empty()) {
        return CtlFailure{ExitCode::Connection,
                          std::to_string(unreachable.size()) +
                              " running jobs of the sweep were not stopped: the worker is not "
                              "connected; try again"};
    }
    return std::nullopt;
}

Outcome runCancel(CtlContext& ctx, const CancelArgs& args) {
    if (args.id.empty() == args.sweep.empty()) {
        return usageFailure("cancel: give a job ID or --sweep ID (one of them)");
    }
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    if (!args.sweep.empty()) {
        return runCancelSweep(*transport, args);
    }
    auto job = transport->cancelJob(args.id);
    if (!job) {
        return failureFrom(job.error());
    }
    if (args.json) {
        printJson(*job);
    } else {
        // A running job stops later (the worker, or the host that runs it, ends it): say so,
        // as cancel --sweep does.
        std::string state = job->value("state", std::string());
        if (state == "starting" || state == "running") {
            state = "stopping";
        }
        std::cout << job->value("id", args.id) << " " << state << "\n";
    }
    return std::nullopt;
}

}  // namespace

void addJobCommands(CLI::App& app, CtlContext& ctx) {
    auto logs = std::make_shared<LogsArgs>();
    auto* logsCmd = app.add_subcommand("logs", "Print a job's output (stdout and stderr)");
    logsCmd->add_option("ID", logs->id, "Job id")->required();
    logsCmd->add_flag("-f,--follow", logs->follow, "Keep printing until the job has finished");
    logsCmd->callback([&ctx, logs] { ctx.outcome = runLogs(ctx, *logs); });

    auto cancel = std::make_shared<CancelArgs>();
    auto* cancelCmd =
        app.add_subcommand("cancel", "Cancel a held, queued or running job, or a whole sweep");
    cancelCmd->add_option("ID", cancel->id, "Job id");
    cancelCmd
        ->add_option("--sweep", cancel->sweep,
                     "Cancel every job of sweep ID: waiting ones at once, running ones stop")
        ->type_name("ID");
    cancelCmd->add_flag("--json", cancel->json, "Print the job (or the sweep's answer) as JSON");
    cancelCmd->callback([&ctx, cancel] { ctx.outcome = runCancel(ctx, *cancel); });
}

}  // namespace fetchml::ctl
