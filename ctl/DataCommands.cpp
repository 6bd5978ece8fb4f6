// `fetchmlctl data add|list|show|rm`: datasets, named and numbered immutable versions of a
// recorded tree that jobs read at /workspace/data/NAME (docs/datasets.md).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "Commands.hpp"
#include "TextFormat.hpp"
#include "TreeSync.hpp"
#include "store/DatasetRef.hpp"
#include "store/Manifest.hpp"

namespace fetchml::ctl {

namespace {

using nlohmann::json;

struct DataArgs {
    std::string dir;
    std::string name;  ///< --name of add; NAME[@VERSION] of show and rm
    bool json = false;
    bool noCache = false;
    bool files = false;
};

/// "NAME@VERSION" of a version dictionary.
std::string refOf(const json& version) {
    return version.value("name", std::string()) + "@" +
           std::to_string(version.value("version", std::int64_t{0}));
}

/// "tree 0123456789ab, 3 files, 1.2 MiB" of a version dictionary.
std::string contentsOf(const json& version) {
    return "tree " + version.value("tree", std::string()).substr(0, 12) + ", " +
           plural(version.value("files", std::uint64_t{0}), "file") + ", " +
           humanBytes(version.value("bytes", std::uint64_t{0}));
}

Outcome runAdd(CtlContext& ctx, const DataArgs& args) {
    // Checked before a long upload; the server checks it again.
    if (!isDatasetName(args.name)) {
        return usageFailure("--name: '" + args.name +
                            "' is not a dataset name (1 to 64 of A-Z a-z 0-9 . _ -, starting "
                            "with a letter or digit)");
    }
    SyncSummary summary;
    if (auto failed = syncCommandTree(ctx, args.dir, args.noCache, summary)) {
        return failed;
    }
    Outcome failure;
    Transport* transport = ctx.transport(failure);  // the one the sync made
    if (transport == nullptr) {
        return failure;
    }
    auto version = transport->addDatasetVersion(args.name, summary.commit);
    if (!version) {
        return failureFrom(version.error());
    }
    if (args.json) {
        json out = *version;
        out["sync"] = summary.toJson();
        printJson(out);
    } else if (version->value("created", true)) {
        std::printf("added %s (%s)\n", refOf(*version).c_str(), contentsOf(*version).c_str());
    } else {
        std::printf("%s unchanged (%s)\n", refOf(*version).c_str(), contentsOf(*version).c_str());
    }
    return std::nullopt;
}

Outcome runList(CtlContext& ctx, const DataArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto datasets = transport->listDatasets();
    if (!datasets) {
        return failureFrom(datasets.error());
    }
    if (args.json) {
        printJson(*datasets);
        return std::nullopt;
    }
    std::printf("%-24s  %6s  %8s  %8s  %10s  %-12s  %s\n", "NAME", "LATEST", "VERSIONS", "FILES",
                "SIZE", "OWNER", "UPDATED");
    for (const auto& d : *datasets) {
        std::printf(
            "%-24s  %6lld  %8lld  %8llu  %10s  %-12s  %s\n", d.value("name", std::string()).c_str(),
            d.value("version", 0LL), d.value("versions", 0LL), d.value("files", 0ULL),
            humanBytes(d.value("bytes", 0ULL)).c_str(), d.value("owner", std::string()).c_str(),
            utcMinute(d.value("created_at", 0LL)).c_str());
    }
    return std::nullopt;
}

/// The files of a version's tree: [{"path", "size"}] (bytes), in manifest order.
Result<json> filesOf(Transport& transport, const json& version) {
    auto text = transport.getManifest(version.value("tree", std::string()));
    if (!text) {
        return text.error();
    }
    auto manifest = Manifest::parse(*text);
    if (!manifest) {
        return manifest.error();
    }
    json files = json::array();
    for (const auto& entry : manifest->entries()) {
        files.push_back({{"path", entry.path}, {"size", entry.size}});
    }
    return files;
}

Outcome runShow(CtlContext& ctx, const DataArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto dataset = transport->getDataset(args.name);
    if (!dataset) {
        return failureFrom(dataset.error());
    }
    const json versions = dataset->value("versions", json::array());
    // The files of the version named, or of the newest one (versions come newest first).
    json files = json::array();
    if (args.files && !versions.empty()) {
        auto listed = filesOf(*transport, versions.front());
        if (!listed) {
            return failureFrom(listed.error());
        }
        files = std::move(*listed);
    }
    if (args.json) {
        json out = *dataset;
        if (args.files) {
            out["files"] = files;
        }
        printJson(out);
        return std::nullopt;
    }
    std::printf("dataset %s, owner %s\n", dataset->value("name", std::string()).c_str(),
                dataset->value("owner", std::string()).c_str());
    std::printf("%7s  %-64s  %8s  %10s  %-12s  %s\n", "VERSION", "TREE", "FILES", "SIZE", "USER",
                "ADDED");
    for (const auto& v : versions) {
        std::printf("%7lld  %-64s  %8llu  %10s  %-12s  %s\n", v.value("version", 0LL),
                    v.value("tree", std::string()).c_str(), v.value("files", 0ULL),
                    humanBytes(v.value("bytes", 0ULL)).c_str(),
                    v.value("user", std::string()).c_str(),
                    utcMinute(v.value("created_at", 0LL)).c_str());
    }
    if (args.files && !versions.empty()) {
        std::printf("\nfiles of %s:\n", refOf(versions.front()).c_str());
        for (const auto& file : files) {
            std::printf("%12llu  %s\n", file.value("size", 0ULL),
                        file.value("path", std::string()).c_str());
        }
    }
    return std::nullopt;
}

Outcome runRemove(CtlContext& ctx, const DataArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto removed = transport->removeDataset(args.name);
    if (!removed) {
        return failureFrom(removed.error());
    }
    if (args.json) {
        printJson(*removed);
        return std::nullopt;
    }
    for (const auto& v : removed->value("versions", json::array())) {
        std::printf("removed %s (%s)\n", refOf(v).c_str(), contentsOf(v).c_str());
    }
    return std::nullopt;
}

}  // namespace

void addDataCommands(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<DataArgs>();
    auto* data = app.add_subcommand(
        "data", "Datasets: named, numbered, immutable versions of a directory that jobs read");
    data->require_subcommand(1);

    auto* add = data->add_subcommand(
        "add", "Upload DIR (only what the server lacks) as the next version of dataset NAME");
    add->add_option("DIR", args->dir, "Directory to add")
        ->required()
        ->check(CLI::ExistingDirectory);
    add->add_option("--name", args->name, "Dataset name: 1 to 64 of [A-Za-z0-9._-]")
        ->required()
        ->type_name("NAME");
    add->add_flag("--no-cache", args->noCache,
                  "Read and hash every file instead of trusting the stat cache");
    add->add_flag("--json", args->json, "Print the version and the sync summary as JSON");
    add->callback([&ctx, args] { ctx.outcome = runAdd(ctx, *args); });

    auto* list = data->add_subcommand("list", "List the datasets and their latest versions");
    list->add_flag("--json", args->json, "Print JSON");
    list->callback([&ctx, args] { ctx.outcome = runList(ctx, *args); });

    auto* show = data->add_subcommand("show", "Show a dataset's versions, or one version");
    show->add_option("REF", args->name, "NAME (every version) or NAME@VERSION")->required();
    show->add_flag("--files", args->files,
                   "Also list the files (size, path) of that version (of the newest with NAME)");
    show->add_flag("--json", args->json, "Print JSON");
    show->callback([&ctx, args] { ctx.outcome = runShow(ctx, *args); });

    auto* rm = data->add_subcommand(
        "rm",
        "Remove a version (NAME@VERSION) or a whole dataset (NAME); jobs keep what they read");
    rm->add_option("REF", args->name, "NAME or NAME@VERSION")->required();
    rm->add_flag("--json", args->json, "Print what was removed as JSON");
    rm->callback([&ctx, args] { ctx.outcome = runRemove(ctx, *args); });
}

}  // namespace fetchml::ctl
