// runCtl: the command-line front of fetchmlctl (CLI11).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

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
    addUserCommands(app, ctx);
    addQueueCommand(app, ctx);
    addSyncCommand(app, ctx);
    addWatchCommand(app, ctx);
    addStatusCommand(app, ctx);
    addJobCommands(app, ctx);
    addPruneCommand(app, ctx);
    addPinCommands(app, ctx);
    addDataCommands(app, ctx);
    addResultsCommand(app, ctx);
    addRerunCommand(app, ctx);
    addCompareCommand(app, ctx);
    addKeyCommands(app, ctx);
    addLoginCommand(app, ctx);
    addBackupCommands(app, ctx);
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
