// `fetchmlctl queue DIR -- CMD...`: submit a job, or a sweep (one job per parameter
// combination, expanded by fetchmld), in one call; sync the directory first (TreeSync.hpp)
// only when fetchmld does not know its commit.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "Commands.hpp"
#include "Duration.hpp"
#include "MemorySize.hpp"
#include "Sweep.hpp"
#include "TreeSync.hpp"

namespace fetchml::ctl {

namespace {

struct QueueArgs {
    std::string dir;
    std::vector<std::string> command;
    std::string image;
    int priority = 0;
    int retries = 0;
    std::vector<std::string> after;
    std::vector<std::string> afterOk;
    std::vector<std::string> params;
    std::string name;
    double cpus = 0;
    std::string memory;
    unsigned gpus = 0;
    std::string time;
    bool json = false;
    bool noCache = false;
};

/// The resource request of `args` (--cpus, --memory, --gpus, --time) as submission fields.
/// Errors: InvalidArgument naming the flag.
Result<nlohmann::json> resourceRequest(const QueueArgs& args) {
    nlohmann::json request = nlohmann::json::object();
    if (args.cpus > 0) {
        request["cpus"] = args.cpus;
    }
    if (!args.memory.empty()) {
        auto mib = parseMemoryMib(args.memory, "--memory");
        if (!mib) {
            return mib.error();
        }
        request["memory_mib"] = *mib;
    }
    if (args.gpus > 0) {
        request["gpus"] = args.gpus;
    }
    if (!args.time.empty()) {
        auto ms = parseDurationMs(args.time, "--time");
        if (!ms) {
            return ms.error();
        }
        request["max_runtime_s"] = (*ms + 999) / 1000;
    }
    return request;
}

Outcome runQueue(CtlContext& ctx, const QueueArgs& args) {
    auto specs = parseParams(args.params);
    if (!specs) {
        return usageFailure(specs.error().message);
    }
    auto resources = resourceRequest(args);
    if (!resources) {
        return usageFailure(resources.error().message);
    }
    // The transport first: it decides how OpenSSL, which hashes the tree, is initialised.
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto manifest = scanTree(args.dir, ScanOptions{.useCache = !args.noCache});
    if (!manifest) {
        return usageFailure(manifest.error().message);
    }
    nlohmann::json request = paramFields(*specs);
    request["commit"] = manifest->commitId();
    request["command"] = args.command;
    request["priority"] = args.priority;
    if (args.retries > 0) {
        request["max_retries"] = args.retries;
    }
    if (!args.after.empty()) {
        request["after"] = args.after;
    }
    if (!args.afterOk.empty()) {
        request["after_ok"] = args.afterOk;
    }
    if (!args.image.empty()) {
        request["image"] = args.image;
    }
    if (!args.name.empty()) {
        request["name"] = args.name;
    }
    request.update(*resources);
    const bool sweepRequest = isSweep(*specs);
    auto submit = [&] {
        return sweepRequest ? transport->submitSweep(request) : transport->submitJob(request);
    };
    // A tree queued before (the usual case when only the parameters change) is recorded under
    // its commit id, the hash of its manifest, with every blob checked when it was recorded
    // (the store never drops them): submit at once, one call. Only when fetchmld does not know
    // the commit (NotFound "commit: ...") upload what it lacks and submit again.
    auto answer = submit();
    if (!answer && answer.error().code == ErrorCode::NotFound &&
        answer.error().message.rfind("commit:", 0) == 0) {
        SyncSummary summary;
        auto synced = syncTree(*transport, *manifest, args.dir,
                               SyncOptions{.progress = progressWanted()}, summary);
        if (!synced) {
            return failureFrom(synced.error());
        }
        answer = submit();
    }
    if (!answer) {
        return failureFrom(answer.error());
    }
    if (!sweepRequest) {
        if (args.json) {
            printJson(nlohmann::json::array({*answer}));  // the shape a sweep of one always had
        } else {
            std::cout << answer->value("id", std::string()) << "\n";
        }
        return std::nullopt;
    }
    // One call: fetchmld expanded the product and stored every job in one transaction.
    const auto& sweep = answer;
    if (args.json) {
        printJson(*sweep);
        return std::nullopt;
    }
    const auto ids = sweep->value("jobs", nlohmann::json::array());
    for (const auto& id : ids) {
        std::cout << (id.is_string() ? id.get<std::string>() : id.dump()) << "\n";
    }
    std::cout.flush();
    std::fprintf(stderr, "fetchmlctl: sweep %s: %zu jobs %s\n",
                 sweep->value("sweep", std::string()).c_str(), ids.size(),
                 sweep->value("state", std::string("queued")).c_str());
    return std::nullopt;
}

}  // namespace

void addQueueCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<QueueArgs>();
    auto* queue = app.add_subcommand(
        "queue", "Upload an experiment directory (only blobs the server lacks) and queue jobs");
    queue->add_option("DIR", args->dir, "Experiment directory")
        ->required()
        ->check(CLI::ExistingDirectory);
    queue->add_option("CMD", args->command, "Command to run in /workspace/code, after --")
        ->required();
    queue->add_option("--image", args->image,
                      "Image: a podman image name or rootfs:<name> (default: the server's)");
    queue->add_option("--priority", args->priority, "Higher runs first (default 0)");
    queue
        ->add_option("--retries", args->retries,
                     "Run again after a failure or loss, up to N times, with a growing delay "
                     "(scheduler.retry_delay_s; default 0)")
        ->check(CLI::Range(0, 10));
    queue
        ->add_option("--after", args->after,
                     "Start only after job ID has ended, however it ended (repeatable)")
        ->type_name("ID")
        ->allow_extra_args(false);
    queue
        ->add_option("--after-ok", args->afterOk,
                     "Start only after job ID has succeeded; fail if it does not (repeatable)")
        ->type_name("ID")
        ->allow_extra_args(false);
    queue
        ->add_option("--param", args->params,
                     "Parameter name=value; name=v1,v2,... is a sweep (one job per "
                     "combination, at most 10000, submitted as one group)")
        ->type_name("K=V")
        ->allow_extra_args(false);
    queue->add_option("--name", args->name, "Name of the job (or of the sweep's jobs)");
    queue
        ->add_option("--cpus", args->cpus,
                     "CPUs the job needs, fractions allowed (default: scheduler.default_cpus)")
        ->check(CLI::Range(0.001, 1024.0));
    queue
        ->add_option("--memory", args->memory,
                     "Memory the job needs: MiB, or a whole number with M, G or T (512M, 16G)")
        ->type_name("SIZE");
    queue->add_option("--gpus", args->gpus, "GPU devices the job needs, each its own")
        ->check(CLI::Range(0, 64));
    queue
        ->add_option("--time", args->time,
                     "Maximum run time, e.g. 30m, 12h (default and most: worker.max_runtime_s); "
                     "a short one lets the job start earlier by backfill")
        ->type_name("DURATION");
    queue->add_flag("--no-cache", args->noCache,
                    "Read and hash every file instead of trusting the stat cache of unchanged "
                    "files (the cache is then rebuilt)");
    queue->add_flag("--json", args->json,
                    "Print the submitted job as a JSON array, or a sweep as {sweep, jobs, state}");
    queue->callback([&ctx, args] { ctx.outcome = runQueue(ctx, *args); });
}

}  // namespace fetchml::ctl
