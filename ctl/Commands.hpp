#pragma once
// The command groups of fetchmlctl. Each adds its subcommands to the app; a subcommand's
// callback runs the command and stores its outcome in the context.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "CtlContext.hpp"

namespace CLI {
class App;
}

namespace fetchml::ctl {

struct SyncSummary;

/// `user add NAME --role ROLE` (UserCommands.cpp).
void addUserCommands(CLI::App& app, CtlContext& ctx);
/// `queue DIR [--image] [--priority] [--param k=v ...] [--data NAME[@V] ...] [--name]
/// [--no-cache] [--json] -- CMD...`
/// (QueueCommand.cpp).
void addQueueCommand(CLI::App& app, CtlContext& ctx);
/// `sync DIR [--no-cache] [--json]` (SyncCommand.cpp).
void addSyncCommand(CLI::App& app, CtlContext& ctx);
/// What `sync DIR` does, for it and `data add`: syncDirectory (TreeSync.hpp) of dir over the
/// context's transport, trusting the stat cache unless noCache, progress on a terminal.
/// summary (out) as syncDirectory fills it; the failure of the transport or the sync.
Outcome syncCommandTree(CtlContext& ctx, const std::string& dir, bool noCache,
                        SyncSummary& summary);
/// `watch DIR [--debounce MS] [--no-cache] [--queue [queue options] -- CMD...]`
/// (WatchCommand.cpp).
void addWatchCommand(CLI::App& app, CtlContext& ctx);
/// `status [ID] [--state S] [--sweep ID] [--limit N] [--json]` (StatusCommand.cpp).
void addStatusCommand(CLI::App& app, CtlContext& ctx);
/// `logs ID [-f]` and `cancel ID|--sweep ID [--json]` (JobCommands.cpp).
void addJobCommands(CLI::App& app, CtlContext& ctx);
/// `prune [--older-than DUR] [--keep-last N] [--state S ...] [--dry-run] [--json]`
/// (PruneCommand.cpp).
void addPruneCommand(CLI::App& app, CtlContext& ctx);
/// `pin add ID [--note TEXT] [--json]`, `pin list [--json]`, `pin rm ID [--json]`
/// (PinCommands.cpp).
void addPinCommands(CLI::App& app, CtlContext& ctx);
/// `data add DIR --name NAME [--no-cache] [--json]`, `data list [--json]`,
/// `data show NAME[@VERSION] [--files] [--json]`, `data rm NAME[@VERSION] [--json]`
/// (DataCommands.cpp).
void addDataCommands(CLI::App& app, CtlContext& ctx);
/// `results ID [--download DIR] [--json]` (ResultsCommand.cpp).
void addResultsCommand(CLI::App& app, CtlContext& ctx);
/// `rerun ID [--json]` (RerunCommand.cpp).
void addRerunCommand(CLI::App& app, CtlContext& ctx);
/// `compare ID ID... [--json]` (CompareCommand.cpp).
void addCompareCommand(CLI::App& app, CtlContext& ctx);
/// `key create|list|revoke` and `whoami` (KeyCommands.cpp).
void addKeyCommands(CLI::App& app, CtlContext& ctx);
/// `backup [DIR] [--server-config FILE] [--set K=V] [--verify] [--prune] [--json]` and
/// `restore DIR [--server-config FILE] [--set K=V] [--force] [--json]`: local, on the server's
/// host (BackupCommand.cpp).
void addBackupCommands(CLI::App& app, CtlContext& ctx);
/// `login URL [--fingerprint HEX] [--yes] [--key-stdin]` (LoginCommand.cpp).
void addLoginCommand(CLI::App& app, CtlContext& ctx);

/// Prints JSON to stdout, indented by 2, with a final newline.
void printJson(const nlohmann::json& value);

/// Adds one group of commands to the app.
using AddCommands = void (*)(CLI::App&, CtlContext&);

/// A group of commands: what adds it and the top-level words it adds (up to two).
struct CommandGroup {
    AddCommands add;
    const char* names[2];
};

/// What one fetchmlctl binary holds beyond the commands over the system bus
/// (decisions.md "fetchmlctl and fetchmlctl-full"). fetchmlctl holds nothing more: it hands a
/// command it lacks, and any command for an HTTPS server, to fetchmlctl-full by execv(2)
/// with the same arguments, so it never loads OpenSSL or SQLite.
struct CtlEdition {
    /// Groups only this binary has (login; backup and restore), listed after the others.
    std::vector<CommandGroup> extraGroups;
    /// Makes the HTTPS transport; nullptr where it is not linked in (fetchmlctl).
    HttpsTransportFactory https = nullptr;
};

/// Where fetchmlctl finds fetchmlctl-full, relative to its own executable (/proc/self/exe) so
/// that an unpacked package works too: in the same directory (a build tree), else in
/// ../libexec/fetchml/ (an installed or unpacked tree), else FETCHML_CTL_FULL_PATH (CMake:
/// <prefix>/libexec/fetchml/fetchmlctl-full).
std::string fullClientPath();

/// Runs fetchmlctl: parses argv, runs the command, prints a failure as one line
/// "fetchmlctl: <message>" on stderr and returns the exit code (ExitCode). Without
/// edition.https, a command it cannot run is handed to fullClientPath() (this call then does
/// not return unless the exec fails, which is a usage failure naming the path).
int runCtl(int argc, char** argv, const CtlEdition& edition);

}  // namespace fetchml::ctl
