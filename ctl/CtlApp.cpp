// runCtl: the command-line front of fetchmlctl (CLI11).

#include <CLI/CLI.hpp>

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
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

/// The command groups of every fetchmlctl, in the order `--help` lists them, with the
/// top-level subcommands each adds. CtlEdition::extraGroups come after these.
// clang-format off
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
};
// clang-format on

/// Thrown from the parse-complete callback when handing over to fetchmlctl-full fails.
struct HandOverFailed {
    CtlFailure failure;
};

/// Replaces this process with fetchmlctl-full, same arguments and environment (the API key
/// never is an argument). Returns only when execv(2) fails, with the failure to report.
CtlFailure handOver(char** argv) {
    const std::string path = fullClientPath();
    ::execv(path.c_str(), argv);
    return usageFailure(
        "cannot run " + path +
        " (fetchmlctl-full: login, backup, restore and HTTPS servers): " + std::strerror(errno));
}

/// The index in argv of the command word: the first argument that is neither a global option
/// nor the value of one (argc when there is none, or when "--" comes first).
int commandWordIndex(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            return argc;
        }
        if (arg == "--server" || arg == "--fingerprint" || arg == "--config") {
            ++i;  // its value
            continue;
        }
        if (!arg.empty() && arg.front() == '-') {
            continue;
        }
        return i;
    }
    return argc;
}

/// The command word of argv ("" when there is none).
std::string_view commandWord(int argc, char** argv) {
    const int i = commandWordIndex(argc, argv);
    return i < argc ? std::string_view(argv[i]) : std::string_view();
}

/// True when the global --server option (before the command word) or, without it,
/// FETCHML_SERVER names an HTTPS server: the precedence ClientConfig gives them, decided
/// without CLI11 or client.yaml so that fetchmlctl hands over before doing anything else.
/// A server named only in client.yaml is found later, once the options are parsed.
bool httpsNamedEarly(int argc, char** argv) {
    const int command = commandWordIndex(argc, argv);
    for (int i = 1; i < command; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            break;
        }
        if (arg == "--server") {
            return i + 1 < argc && argv[i + 1][0] != '\0';
        }
        if (arg.starts_with("--server=")) {
            return arg.size() > std::string_view("--server=").size();
        }
        if (arg == "--fingerprint" || arg == "--config") {
            ++i;  // its value
        }
    }
    const char* env = std::getenv("FETCHML_SERVER");
    return env != nullptr && env[0] != '\0';
}

/// The group that adds the command `word`, or nullptr.
const CommandGroup* groupOf(std::string_view word, const CtlEdition& edition) {
    auto names = [&](const CommandGroup& group) {
        for (const char* name : group.names) {
            if (name != nullptr && word == name) {
                return true;
            }
        }
        return false;
    };
    for (const auto& group : kGroups) {
        if (names(group)) {
            return &group;
        }
    }
    for (const auto& group : edition.extraGroups) {
        if (names(group)) {
            return &group;
        }
    }
    return nullptr;
}

/// True when argv asks only for the version (no command word, --version among the options).
bool versionOnly(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--version") {
            return true;
        }
    }
    return false;
}

/// The message for CLI11's parse error `e`. A word where a command is required that names
/// none (`fetchmlctl qeueu`, `fetchmlctl user ad`) gets its own message: CLI11 says only that
/// a subcommand is required.
std::string parseErrorText(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
    const CLI::App* level = &app;
    std::string words;
    for (int i = commandWordIndex(argc, argv); i < argc && level->get_require_subcommand_min() > 0;
         ++i) {
        const std::string word = argv[i];
        if (word.empty() || word.front() == '-') {
            break;
        }
        words += word;
        const auto named =
            level->get_subcommands([&word](const CLI::App* sub) { return sub->check_name(word); });
        if (named.empty()) {
            return "unknown command '" + words + "' (see fetchmlctl " +
                   words.substr(0, words.size() - word.size()) + "--help)";
        }
        words += ' ';
        level = named.front();
    }
    return std::string(e.what()) + " (see fetchmlctl --help)";
}

/// Adds the command group that argv names, or every group when it names none (usage, --help,
/// a misspelt command: CLI11 then lists or rejects as usual). Building all of them costs each
/// call more than its bus round trip (decisions.md "A short client start").
void addCommands(CLI::App& app, CtlContext& ctx, const CommandGroup* named,
                 const CtlEdition& edition) {
    if (named != nullptr) {
        named->add(app, ctx);
        return;
    }
    for (const auto& group : kGroups) {
        group.add(app, ctx);
    }
    for (const auto& group : edition.extraGroups) {
        group.add(app, ctx);
    }
}

}  // namespace

void printJson(const nlohmann::json& value) {
    std::cout << value.dump(2) << "\n";
}

std::string fullClientPath() {
    std::string self(PATH_MAX, '\0');
    ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
    if (n > 0 && static_cast<std::size_t>(n) < self.size()) {
        self.resize(static_cast<std::size_t>(n));
        const std::string dir = self.substr(0, self.rfind('/') + 1);
        for (const char* relative : {"fetchmlctl-full", "../libexec/fetchml/fetchmlctl-full"}) {
            std::string candidate = dir + relative;
            if (::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
        }
    }
    return FETCHML_CTL_FULL_PATH;
}

int runCtl(int argc, char** argv, const CtlEdition& edition) {
    const CommandGroup* named = groupOf(commandWord(argc, argv), edition);
    const bool complete = edition.https != nullptr;
    if (!complete && ((named == nullptr && !versionOnly(argc, argv)) ||
                      (named != nullptr && httpsNamedEarly(argc, argv)))) {
        // A command only fetchmlctl-full has, --help (which lists every command), a misspelt
        // one (whose error lists them too), or an HTTPS server named in the arguments or the
        // environment (handing over before parsing saves this process's work, about 1 ms here).
        return fail(handOver(argv));
    }
    CtlContext ctx;
    ctx.https = edition.https;
    CLI::App app{
        "fetchmlctl: queue and manage FetchML experiments.\n"
        "The API key comes from FETCHML_API_KEY or client.yaml, never from arguments.",
        "fetchmlctl"};
    app.footer(exitCodeFooter());
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", std::string("fetchmlctl ") + FETCHML_VERSION);
    addGlobalOptions(app, ctx.options);
    if (named != nullptr || !versionOnly(argc, argv)) {
        addCommands(app, ctx, named, edition);  // --version alone needs none
    }
    if (!complete) {
        // Once the options are known and before the command runs: an HTTPS server (--server,
        // FETCHML_SERVER or client.yaml) is for fetchmlctl-full.
        app.parse_complete_callback([&ctx, argv] {
            if (ctx.wantsHttps()) {
                throw HandOverFailed{handOver(argv)};
            }
        });
    }
    try {
        app.parse(argc, argv);
    } catch (const HandOverFailed& e) {
        return fail(e.failure);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        return fail(usageFailure(parseErrorText(app, e, argc, argv)));
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
