// `fetchmlctl queue DIR -- CMD...`: submit a job, or a sweep (one job per parameter
// combination, expanded by fetchmld), in one call; sync the directory first (TreeSync.hpp)
// only when fetchmld does not know its commit. The submission options are shared with
// `fetchmlctl watch --queue` (Submission.hpp).

#include <CLI/CLI.hpp>

#include <memory>

#include "Commands.hpp"
#include "Submission.hpp"
#include "TreeSync.hpp"

namespace fetchml::ctl {

namespace {

struct QueueArgs {
    std::string dir;
    QueueOptions options;
    bool json = false;
    bool noCache = false;
};

Outcome runQueue(CtlContext& ctx, const QueueArgs& args) {
    auto submission = Submission::prepare(args.options);
    if (!submission) {
        return usageFailure(submission.error().message);
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
    const std::string commit = manifest->commitId();
    // A tree queued before (the usual case when only the parameters change) is recorded under
    // its commit id, the hash of its manifest, with every blob checked when it was recorded
    // (the store never drops them): submit at once, one call. Only when fetchmld does not know
    // the commit (NotFound "commit: ...") upload what it lacks and submit again.
    auto answer = submission->submit(*transport, commit);
    if (!answer && answer.error().code == ErrorCode::NotFound &&
        answer.error().message.rfind("commit:", 0) == 0) {
        SyncSummary summary;
        auto synced = syncTree(*transport, *manifest, args.dir,
                               SyncOptions{.progress = progressWanted()}, summary);
        if (!synced) {
            return failureFrom(synced.error());
        }
        answer = submission->submit(*transport, commit);
    }
    if (!answer) {
        return failureFrom(answer.error());
    }
    printSubmitted(*answer, submission->isSweep(), args.json);
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
    queue->add_option("CMD", args->options.command, "Command to run in /workspace/code, after --")
        ->required();
    addQueueOptions(*queue, args->options);
    queue->add_flag("--no-cache", args->noCache,
                    "Read and hash every file instead of trusting the stat cache of unchanged "
                    "files (the cache is then rebuilt)");
    queue->add_flag("--json", args->json,
                    "Print the submitted job as a JSON array, or a sweep as {sweep, jobs, state}");
    queue->callback([&ctx, args] { ctx.outcome = runQueue(ctx, *args); });
}

}  // namespace fetchml::ctl
