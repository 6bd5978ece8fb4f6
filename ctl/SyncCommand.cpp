// `fetchmlctl sync DIR [--json]`: upload what the server lacks of a directory (TreeSync.hpp)
// and record its manifest; prints the commit id, or a summary as JSON.

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <memory>

#include "Commands.hpp"
#include "TreeSync.hpp"

namespace fetchml::ctl {

namespace {

struct SyncArgs {
    std::string dir;
    bool json = false;
};

Outcome runSync(CtlContext& ctx, const SyncArgs& args) {
    const auto start = std::chrono::steady_clock::now();
    // The transport first: it decides how OpenSSL, which hashes the tree, is initialised.
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto manifest = scanTree(args.dir);
    if (!manifest) {
        return usageFailure(manifest.error().message);
    }
    SyncSummary summary;
    auto synced = syncTree(*transport, *manifest, args.dir,
                           SyncOptions{.progress = progressWanted()}, summary);
    if (!synced) {
        return failureFrom(synced.error());
    }
    // The whole command, scan and hashing included.
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (args.json) {
        printJson(summary.toJson());
    } else {
        std::cout << summary.commit << "\n";
    }
    return std::nullopt;
}

}  // namespace

void addSyncCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<SyncArgs>();
    auto* sync = app.add_subcommand(
        "sync", "Upload a directory (only blobs the server lacks) and record its commit");
    sync->add_option("DIR", args->dir, "Directory to sync")
        ->required()
        ->check(CLI::ExistingDirectory);
    sync->add_flag("--json", args->json,
                   "Print {commit, files, bytes, blobs_missing, blobs_sent, bytes_sent, packs, "
                   "seconds} instead of the commit id");
    sync->callback([&ctx, args] { ctx.outcome = runSync(ctx, *args); });
}

}  // namespace fetchml::ctl
