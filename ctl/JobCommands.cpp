// `fetchmlctl logs ID [-f]` and `fetchmlctl cancel ID`.

#include <CLI/CLI.hpp>

#include <chrono>
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

Outcome runCancel(CtlContext& ctx, const CancelArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto job = transport->cancelJob(args.id);
    if (!job) {
        return failureFrom(job.error());
    }
    if (args.json) {
        printJson(*job);
    } else {
        std::cout << job->value("id", args.id) << " " << job->value("state", std::string()) << "\n";
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
    auto* cancelCmd = app.add_subcommand("cancel", "Cancel a queued or running job");
    cancelCmd->add_option("ID", cancel->id, "Job id")->required();
    cancelCmd->add_flag("--json", cancel->json, "Print the job as JSON");
    cancelCmd->callback([&ctx, cancel] { ctx.outcome = runCancel(ctx, *cancel); });
}

}  // namespace fetchml::ctl
