// `fetchmlctl prune [--older-than DUR] [--keep-last N] [--state S ...] [--dry-run] [--json]`:
// remove finished runs, then the store's garbage (admin).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "Commands.hpp"
#include "Duration.hpp"

namespace fetchml::ctl {

namespace {

struct PruneArgs {
    std::string olderThan;
    std::optional<std::uint32_t> keepLast;
    std::vector<std::string> states;
    bool dryRun = false;
    bool json = false;
};

/// The PruneJobs request for the flags. Errors: usage failures naming the flag.
Result<nlohmann::json> pruneRequest(const PruneArgs& args) {
    if (args.olderThan.empty() && !args.keepLast && args.states.empty()) {
        return makeError(ErrorCode::InvalidArgument,
                         "prune: give --older-than, --keep-last and/or --state (pruning every "
                         "finished job takes --state succeeded --state failed --state cancelled)");
    }
    nlohmann::json request = {{"dry_run", args.dryRun}};
    if (!args.olderThan.empty()) {
        auto ms = parseDurationMs(args.olderThan, "--older-than");
        if (!ms) {
            return ms.error();
        }
        request["older_than_ms"] = *ms;
    }
    if (args.keepLast) {
        request["keep_last"] = *args.keepLast;
    }
    if (!args.states.empty()) {
        request["states"] = args.states;
    }
    return request;
}

Outcome runPrune(CtlContext& ctx, const PruneArgs& args) {
    auto request = pruneRequest(args);
    if (!request) {
        return usageFailure(request.error().message);
    }
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto answer = transport->pruneJobs(*request);
    if (!answer) {
        return failureFrom(answer.error());
    }
    if (args.json) {
        printJson(*answer);
        return std::nullopt;
    }
    const auto pruned = answer->value("pruned", nlohmann::json::array());
    const auto kept = answer->value("kept", nlohmann::json::array());
    auto text = [](const nlohmann::json& id) {
        return id.is_string() ? id.get<std::string>() : id.dump();
    };
    std::cout << (args.dryRun ? "would prune " : "pruned ") << pruned.size() << " jobs\n";
    for (const auto& id : pruned) {
        std::cout << text(id) << "\n";
    }
    std::cout.flush();
    for (const auto& id : kept) {
        std::fprintf(stderr, "fetchmlctl: kept %s: a held job waits on it\n", text(id).c_str());
    }
    for (const auto& dir : answer->value("dirs_left", nlohmann::json::array())) {
        std::fprintf(stderr, "fetchmlctl: run directory not removed: %s\n", text(dir).c_str());
    }
    // The store's part on stderr, as queue says "sweep ...: N jobs queued" there: stdout stays
    // the count and the ids.
    const std::string skipped = answer->value("gc_skipped", std::string());
    if (!skipped.empty()) {
        std::fprintf(stderr, "store: not collected: %s\n", skipped.c_str());
    } else {
        constexpr double kMiB = 1024.0 * 1024.0;
        std::fprintf(stderr, "store: %s %zu trees and %llu blobs (%.1f MiB)\n",
                     args.dryRun ? "would remove" : "removed",
                     answer->value("trees_removed", nlohmann::json::array()).size(),
                     static_cast<unsigned long long>(answer->value("blobs_removed", 0ull)),
                     static_cast<double>(answer->value("bytes_freed", 0ull)) / kMiB);
    }
    return std::nullopt;
}

}  // namespace

void addPruneCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<PruneArgs>();
    auto* prune = app.add_subcommand(
        "prune",
        "Remove finished jobs, their run directories, then the blobs nothing uses (admin)");
    prune
        ->add_option("--older-than", args->olderThan,
                     "Only jobs that finished at least this long ago (90d, 12h, 30m, 2w)")
        ->type_name("DUR");
    prune
        ->add_option("--keep-last", args->keepLast,
                     "Keep the N most recently finished jobs (of the --state ones)")
        ->type_name("N");
    prune
        ->add_option("--state", args->states,
                     "Only jobs in this finished state (repeatable; default all three)")
        ->type_name("S")
        ->check(CLI::IsMember({"succeeded", "failed", "cancelled"}))
        ->allow_extra_args(false);
    prune->add_flag("--dry-run", args->dryRun, "Show what would be removed, remove nothing");
    prune->add_flag("--json", args->json,
                    "Print {pruned, kept, dirs_left, trees_removed, blobs_removed, bytes_freed, "
                    "gc_skipped, dry_run} as JSON");
    prune->callback([&ctx, args] { ctx.outcome = runPrune(ctx, *args); });
}

}  // namespace fetchml::ctl
