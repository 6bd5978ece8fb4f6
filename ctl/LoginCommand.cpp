// `fetchmlctl login URL`: trust on first use of a server's certificate, like ssh's
// known_hosts. Shows the certificate's SHA-256 fingerprint, pins it in client.yaml after the
// user confirms it (or it equals --fingerprint), and refuses a server whose certificate differs
// from the one already pinned for it.

#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>

#include "ClientConfig.hpp"
#include "Commands.hpp"
#include "HttpsTransport.hpp"
#include "net/HttpsClient.hpp"

namespace fetchml::ctl {

namespace {

struct LoginArgs {
    std::string url;
    std::string fingerprint;
    bool yes = false;
    bool keyStdin = false;
};

/// "AB:CD:..." for reading aloud and comparing: the form fetchml-httpsd logs and writes to
/// <tls_dir>/fingerprint (and `openssl x509 -fingerprint` prints).
std::string colonHex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        out += (i == 0 ? "" : ":") + hex.substr(i, 2);
    }
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

Result<std::string> fetchFingerprint(const HttpsUrl& url) {
    HttpsClientOptions options;
    options.host = url.host;
    options.port = url.port;
    options.insecure = true;  // first contact: the fingerprint is what we are about to check
    options.timeoutMs = 15000;
    auto client = HttpsClient::create(options);
    if (!client) {
        return client.error();
    }
    return (*client)->peerFingerprint();
}

/// Asks on the controlling terminal (/dev/tty, so stdin stays free for --key-stdin); false
/// when the answer is not "y"/"yes". nullopt when there is no terminal.
std::optional<bool> confirm(const std::string& question) {
    std::FILE* tty = std::fopen("/dev/tty", "r+");
    if (tty == nullptr) {
        return std::nullopt;
    }
    std::fprintf(tty, "%s [y/N] ", question.c_str());
    std::fflush(tty);
    char line[64] = {};
    bool yes = std::fgets(line, sizeof line, tty) != nullptr &&
               (std::strcmp(line, "y\n") == 0 || std::strcmp(line, "Y\n") == 0 ||
                std::strcmp(line, "yes\n") == 0);
    std::fclose(tty);
    return yes;
}

/// The API key from stdin: one line; on a terminal, asked for with echo off.
std::string readKey() {
    bool terminal = ::isatty(STDIN_FILENO) != 0;
    termios saved{};
    if (terminal && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        std::fprintf(stderr, "API key (not shown): ");
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string key;
    std::getline(std::cin, key);
    if (terminal) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::fprintf(stderr, "\n");
    }
    return key;
}

Outcome decideTrust(const LoginArgs& args, const ClientConfig& existing, const std::string& seen,
                    const std::string& endpoint) {
    if (!args.fingerprint.empty()) {
        auto want = normaliseFingerprint(args.fingerprint);
        if (!want) {
            return usageFailure(want.error().message);
        }
        if (*want != seen) {
            return CtlFailure{ExitCode::Connection,
                              "the certificate of " + endpoint + " has fingerprint " + seen +
                                  ", not the expected " + *want + "; nothing was saved"};
        }
        return std::nullopt;
    }
    if (existing.server == args.url && !existing.fingerprint.empty()) {
        auto pinned = normaliseFingerprint(existing.fingerprint);
        if (pinned && *pinned != seen) {
            return CtlFailure{ExitCode::Connection,
                              "the certificate of " + endpoint +
                                  " has changed: its fingerprint is " + seen + " but " + *pinned +
                                  " is pinned in " + existing.sourceFile +
                                  ". If it was replaced on purpose, check the new fingerprint on "
                                  "the server and run login again with --fingerprint " +
                                  seen + "; otherwise someone may be intercepting the connection"};
        }
        if (pinned) {
            return std::nullopt;  // already trusted
        }
    }
    std::fprintf(
        stderr,
        "The certificate of %s has the SHA-256 fingerprint\n  %s\n"
        "Compare it with the server's (`cat /var/lib/fetchml-https/tls/fingerprint` there, or "
        "the fetchml-httpsd log).\n",
        endpoint.c_str(), colonHex(seen).c_str());
    if (args.yes) {
        return std::nullopt;
    }
    auto trusted = confirm("Trust this certificate and pin it?");
    if (!trusted) {
        return usageFailure("no terminal to ask on: pass --fingerprint " + seen +
                            " after checking it, or --yes");
    }
    if (!*trusted) {
        return CtlFailure{ExitCode::Connection, "not trusted; nothing was saved"};
    }
    return std::nullopt;
}

Outcome runLogin(CtlContext& ctx, const LoginArgs& args) {
    auto url = parseHttpsUrl(args.url);
    if (!url) {
        return usageFailure(url.error().message);
    }
    std::string path =
        ctx.options.configPath.empty() ? defaultClientConfigPath() : ctx.options.configPath;
    if (path.empty()) {
        return usageFailure("no place for client.yaml: set HOME or XDG_CONFIG_HOME, or --config");
    }
    auto existing = readClientConfigFile(path);
    if (!existing) {
        return usageFailure(existing.error().message);
    }
    existing->sourceFile = path;
    std::string endpoint = url->host + ":" + std::to_string(url->port);
    auto seen = fetchFingerprint(*url);
    if (!seen) {
        return failureFrom(seen.error());
    }
    if (auto refused = decideTrust(args, *existing, *seen, endpoint)) {
        return refused;
    }
    ClientConfig config = *existing;
    config.server = args.url;
    config.fingerprint = *seen;
    if (args.keyStdin) {
        config.apiKey = readKey();
    } else if (const char* env = std::getenv("FETCHML_API_KEY"); env != nullptr && *env != 0) {
        config.apiKey = env;
    }
    if (auto written = writeClientConfigFile(path, config); !written) {
        return failureFrom(written.error());
    }
    std::fprintf(stderr, "pinned %s for %s in %s\n", colonHex(*seen).c_str(), args.url.c_str(),
                 path.c_str());
    if (config.apiKey.empty()) {
        std::fprintf(stderr, "no API key saved: pass one with --key-stdin or FETCHML_API_KEY\n");
        return std::nullopt;
    }
    HttpsClientOptions options;
    options.host = url->host;
    options.port = url->port;
    options.fingerprint = *seen;
    auto client = HttpsClient::create(options);
    if (!client) {
        return failureFrom(client.error());
    }
    (*client)->setBearerToken(config.apiKey);
    HttpsTransport transport(std::move(*client));
    auto me = transport.hello();
    if (!me) {
        return failureFrom(me.error());
    }
    std::printf("logged in to %s as %s (role %s)\n", args.url.c_str(),
                me->value("user", "").c_str(), me->value("role", "").c_str());
    return std::nullopt;
}

}  // namespace

void addLoginCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<LoginArgs>();
    auto* login = app.add_subcommand(
        "login", "Pin a server's certificate (trust on first use) and save it with your key");
    login->add_option("URL", args->url, "https://host[:port]")->required();
    login->add_option("--fingerprint", args->fingerprint,
                      "Expected SHA-256 fingerprint (from the server); no question asked");
    login->add_flag("--yes", args->yes, "Trust the certificate shown without asking");
    login->add_flag("--key-stdin", args->keyStdin, "Read the API key from standard input");
    login->callback([&ctx, args] { ctx.outcome = runLogin(ctx, *args); });
}

}  // namespace fetchml::ctl
