// `fetchmlctl sync DIR [--no-cache] [--json]`: upload what the server lacks of a directory
// (TreeSync.hpp) and record its manifest; prints the commit id, or a summary as JSON.

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "Commands.hpp"
#include "TreeSync.hpp"

namespace fetchml::ctl {

namespace {

struct SyncArgs {
    std::string dir;
    bool json = false;
    bool noCache = false;
};

}  // namespace

Outcome syncCommandTree(CtlContext& ctx, const std::string& dir, bool noCache,
                        SyncSummary& summary) {
    // The transport first: it decides how OpenSSL, which hashes the tree, is initialised.
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    return syncDirectory(*transport, dir, ScanOptions{.useCache = !noCache},
                         SyncOptions{.progress = progressWanted()}, summary);
}

namespace {

Outcome runSync(CtlContext& ctx, const SyncArgs& args) {
    SyncSummary summary;
    if (auto failed = syncCommandTree(ctx, args.dir, args.noCache, summary)) {
        return failed;
    }
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
    sync->add_flag("--no-cache", args->noCache,
                   "Read and hash every file instead of trusting the stat cache of unchanged "
                   "files (the cache is then rebuilt)");
    sync->add_flag("--json", args->json,
                   "Print {commit, files, bytes, blobs_missing, blobs_sent, bytes_sent, packs, "
                   "files_hashed, bytes_hashed, seconds} instead of the commit id");
    sync->callback([&ctx, args] { ctx.outcome = runSync(ctx, *args); });
}

}  // namespace fetchml::ctl
