// runCtl: the command-line front of fetchmlctl (CLI11).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string_view>

#include "Commands.hpp"

namespace fetchml::ctl {

namespace {

int fail(const CtlFailure& failure) {
    std::fprintf(stderr, "fetchmlctl: %s\n", failure.message.c_str());
    return static_cast<int>(failure.exit);
}

void addGlobalOptions(CLI::App& app, GlobalOptions& options) {
    app.add_option_function<std::string>(
           "--server", [&options](const std::string& v) { options.server = v; },
           "Server URL https://host[:port] (default: FETCHML_SERVER, client.yaml; none: the "
           "local system bus)")
        ->type_name("URL");
    app.add_option_function<std::string>(
           "--fingerprint", [&options](const std::string& v) { options.fingerprint = v; },
           "SHA-256 fingerprint of the server certificate (default: FETCHML_FINGERPRINT, "
           "client.yaml)")
        ->type_name("HEX");
    app.add_option("--config", options.configPath,
                   "Client config file (default: $XDG_CONFIG_HOME/fetchml/client.yaml)")
        ->type_name("FILE");
    app.add_flag("--insecure", options.insecure,
                 "Accept any server certificate when no fingerprint is pinned");
}

using AddCommands = void (*)(CLI::App&, CtlContext&);

/// Every command group, in the order `--help` lists them, with the top-level subcommands each
/// adds.
struct CommandGroup {
    AddCommands add;
    const char* names[2];
};
constexpr CommandGroup kGroups[] = {
    {addUserCommands, {"user"}},
    {addQueueCommand, {"queue"}},
    {addSyncCommand, {"sync"}},
    {addWatchCommand, {"watch"}},
    {addStatusCommand, {"status"}},
    {addJobCommands, {"logs", "cancel"}},
    {addPruneCommand, {"prune"}},
    {addPinCommands, {"pin"}},
    {addDataCommands, {"data"}},
    {addResultsCommand, {"results"}},
    {addRerunCommand, {"rerun"}},
    {addCompareCommand, {"compare"}},
    {addKeyCommands, {"key", "whoami"}},
    {addLoginCommand, {"login"}},
    {addBackupCommands, {"backup", "restore"}},
};

/// The command word of argv: the first argument that is neither a global option nor the value
/// of one ("" when there is none, or when "--" comes first).
std::string_view commandWord(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            return {};
        }
        if (arg == "--server" || arg == "--fingerprint" || arg == "--config") {
            ++i;  // its value
            continue;
        }
        if (!arg.empty() && arg.front() == '-') {
            continue;
        }
        return arg;
    }
    return {};
}

/// Adds the command group that argv names, or every group when it names none (usage, --help,
/// a misspelt command: CLI11 then lists or rejects as usual). Building all of them costs each
/// call more than its bus round trip (decisions.md "A short client start").
void addCommands(CLI::App& app, CtlContext& ctx, int argc, char** argv) {
    const std::string_view word = commandWord(argc, argv);
    for (const auto& group : kGroups) {
        for (const char* name : group.names) {
            if (name != nullptr && word == name) {
                group.add(app, ctx);
                return;
            }
        }
    }
    for (const auto& group : kGroups) {
        group.add(app, ctx);
    }
}

}  // namespace

void printJson(const nlohmann::json& value) {
    std::cout << value.dump(2) << "\n";
}

int runCtl(int argc, char** argv) {
    CtlContext ctx;
    CLI::App app{
        "fetchmlctl: queue and manage FetchML experiments.\n"
        "The API key comes from FETCHML_API_KEY or client.yaml, never from arguments.",
        "fetchmlctl"};
    app.footer(exitCodeFooter());
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", std::string("fetchmlctl ") + FETCHML_VERSION);
    addGlobalOptions(app, ctx.options);
    addCommands(app, ctx, argc, argv);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        return fail(usageFailure(std::string(e.what()) + " (see fetchmlctl --help)"));
    } catch (const std::exception& e) {
        // Unexpected shapes in a server's answer end up here (e.g. a JSON type error).
        return fail(CtlFailure{ExitCode::Connection, std::string("unexpected: ") + e.what()});
    }
    std::cout.flush();
    if (ctx.outcome) {
        return fail(*ctx.outcome);
    }
    return 0;
}

}  // namespace fetchml::ctl
