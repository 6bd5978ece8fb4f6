// `fetchmlctl backup [DIR]` and `fetchmlctl restore DIR`: the host administrator's backup of
// the server's state directory (Backup.hpp). They read fetchmld's configuration, not the
// client's, and talk to no server: fetchmlctl reads and writes the files itself.

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "Backup.hpp"
#include "Commands.hpp"
#include "core/Config.hpp"

namespace fetchml::ctl {

namespace {

/// The flags that find fetchmld's state, as fetchmld's own --config and --set.
struct ServerConfigArgs {
    std::string path;  ///< --server-config ("" = FETCHML_CONFIG, else /etc/fetchml/fetchml.yaml)
    std::vector<std::string> overrides;  ///< --set section.key=value

    void add(CLI::App& cmd) {
        cmd.add_option("--server-config", path,
                       "fetchmld's configuration (default: FETCHML_CONFIG, else " +
                           std::string(kDefaultConfigPath) + ")")
            ->type_name("FILE");
        cmd.add_option("--set", overrides,
                       "Override a key of it, as fetchmld --set (repeatable), e.g. "
                       "paths.state_dir=/srv/fetchml")
            ->type_name("SECTION.KEY=VALUE")
            ->allow_extra_args(false);
    }

    /// fetchmld's paths, loaded as fetchmld loads them (file, drop-ins, FETCHML_<SECTION>_<KEY>
    /// environment, overrides).
    Result<ServerPaths> load() const {
        LoadOptions options;
        options.path = path;
        options.mustExist = !path.empty();
        if (options.path.empty()) {
            const char* env = std::getenv("FETCHML_CONFIG");
            options.path = env != nullptr && *env != '\0' ? env : kDefaultConfigPath;
            options.mustExist = env != nullptr && *env != '\0';
        }
        options.overrides = overrides;
        auto settings = loadSettings(options);
        if (!settings) {
            return settings.error();
        }
        return ServerPaths::fromSettings(resolvePaths(std::move(*settings)));
    }
};

struct BackupArgs {
    std::string dir;
    ServerConfigArgs config;
    bool verify = false;
    bool prune = false;
    bool json = false;
};

struct RestoreArgs {
    std::string dir;
    ServerConfigArgs config;
    bool force = false;
    bool json = false;
};

// Both commands are local: every failure is exit code 1 with the reason on stderr.
CtlFailure localFailure(const Error& error) {
    std::string message = error.message;
    if (::geteuid() != 0 && message.find("Permission denied") != std::string::npos) {
        message += " (fetchmld's state belongs to its user: run this as root)";
    }
    return CtlFailure{ExitCode::Usage, message};
}

std::string trimSlashes(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') {
        dir.pop_back();
    }
    return dir;
}

/// Prints what a backup or restore did: its JSON with --json, else its one-line summary.
template <typename Summary>
void printSummary(const Summary& summary, bool json) {
    if (json) {
        printJson(summary.toJson());
    } else {
        std::cout << summary.line() << "\n";
    }
}

Outcome runBackup(const BackupArgs& args) {
    auto server = args.config.load();
    if (!server) {
        return localFailure(server.error());
    }
    const std::string dir =
        trimSlashes(args.dir.empty() ? server->stateDir + "/backups" : args.dir);
    BackupOptions options{args.verify, args.prune, {}, [](const std::string& message) {
                              std::fprintf(stderr, "fetchmlctl backup: %s\n", message.c_str());
                          }};
    auto summary = backupServer(*server, dir, options);
    if (!summary) {
        return localFailure(summary.error());
    }
    printSummary(*summary, args.json);
    return std::nullopt;
}

Outcome runRestore(const RestoreArgs& args) {
    auto server = args.config.load();
    if (!server) {
        return localFailure(server.error());
    }
    auto summary = restoreServer(trimSlashes(args.dir), *server, RestoreOptions{args.force});
    if (!summary) {
        return localFailure(summary.error());
    }
    printSummary(*summary, args.json);
    return std::nullopt;
}

}  // namespace

void addBackupCommands(CLI::App& app, CtlContext& ctx) {
    auto backupArgs = std::make_shared<BackupArgs>();
    auto* backup = app.add_subcommand(
        "backup",
        "Back up the server's database, store and job logs into DIR while it runs (on the "
        "server's host, as root; incremental)");
    backup->add_option("DIR", backupArgs->dir, "Backup directory (default: <state_dir>/backups)");
    backupArgs->config.add(*backup);
    backup->add_flag("--verify", backupArgs->verify,
                     "Re-hash the blobs already in DIR and copy damaged ones again");
    backup->add_flag("--prune", backupArgs->prune,
                     "Remove the blobs of DIR that this backup no longer lists");
    backup->add_flag("--json", backupArgs->json,
                     "Print {dir, database_bytes, jobs, commits, blobs, blob_bytes, "
                     "blobs_copied, blobs_skipped, bytes_copied, blobs_replaced, blobs_vanished, "
                     "logs, logs_copied, pruned, seconds}");
    backup->callback([&ctx, backupArgs] { ctx.outcome = runBackup(*backupArgs); });

    auto restoreArgs = std::make_shared<RestoreArgs>();
    auto* restore = app.add_subcommand(
        "restore",
        "Rebuild the server's state from a backup (on its host, as root, fetchmld stopped)");
    restore->add_option("DIR", restoreArgs->dir, "Backup directory")
        ->required()
        ->check(CLI::ExistingDirectory);
    restoreArgs->config.add(*restore);
    restore->add_flag("--force", restoreArgs->force,
                      "Replace a database that already holds jobs, users or commits");
    restore->add_flag("--json", restoreArgs->json,
                      "Print {dir, database_bytes, jobs, blobs, blob_bytes, blobs_stored, "
                      "blobs_present, logs, seconds}");
    restore->callback([&ctx, restoreArgs] { ctx.outcome = runRestore(*restoreArgs); });
}

}  // namespace fetchml::ctl
