// `fetchmlctl rerun ID [--json]`: queues the exact code (commit), image, command, parameters,
// resources and dataset versions of an earlier job again, as a new job (issue 6, point 5).

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "Commands.hpp"

namespace fetchml::ctl {

namespace {

struct RerunArgs {
    std::string id;
    bool json = false;
};

/// The SubmitJob request that repeats job (a GetJob dictionary). Its "data" are the exact
/// versions it read ("NAME@VERSION"), so the rerun reads them too, not the latest. Not
/// repeated: dependencies (--after met or not long ago) and sweep membership (the new job is
/// on its own).
nlohmann::json rerunRequest(const nlohmann::json& job) {
    nlohmann::json request = nlohmann::json::object();
    for (const char* key : {"commit", "command", "image", "priority", "params", "max_retries",
                            "cpus", "memory_mib", "gpus", "max_runtime_s", "data"}) {
        if (auto it = job.find(key); it != job.end() && !it->is_null()) {
            request[key] = *it;
        }
    }
    if (auto name = job.value("name", std::string()); !name.empty()) {
        request["name"] = name;
    }
    return request;
}

Outcome runRerun(CtlContext& ctx, const RerunArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto job = transport->getJob(args.id);
    if (!job) {
        return failureFrom(job.error());
    }
    auto again = transport->submitJob(rerunRequest(*job));
    if (!again) {
        return failureFrom(again.error());
    }
    if (args.json) {
        printJson(*again);
    } else {
        std::cout << again->value("id", std::string()) << "\n";
    }
    return std::nullopt;
}

}  // namespace

void addRerunCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<RerunArgs>();
    auto* cmd = app.add_subcommand(
        "rerun",
        "Queue the same code, image, command, parameters, resources and data as job ID again");
    cmd->add_option("ID", args->id, "Job id")->required();
    cmd->add_flag("--json", args->json, "Print the new job as JSON");
    cmd->callback([&ctx, args] { ctx.outcome = runRerun(ctx, *args); });
}

}  // namespace fetchml::ctl
