// `fetchmlctl key ...` and `whoami`: API keys (docs/security.md "Keys").

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "Commands.hpp"
#include "Duration.hpp"
#include "TextFormat.hpp"

namespace fetchml::ctl {

namespace {

struct KeyArgs {
    std::string user;
    std::string role;
    std::string expires;
    std::string keyId;
    bool json = false;
};

std::int64_t nowMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// "2026-11-30 07:18 UTC" for ms since the epoch; "never" for 0.
std::string when(std::int64_t ms) {
    if (ms == 0) {
        return "never";
    }
    return utcMinute(ms);
}

Outcome runCreate(CtlContext& ctx, const KeyArgs& args) {
    std::int64_t expiresAt = 0;
    if (!args.expires.empty()) {
        auto ms = parseDurationMs(args.expires, "--expires");
        if (!ms) {
            return usageFailure(ms.error().message);
        }
        expiresAt = nowMs() + *ms;
    }
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto key = transport->createKey(args.user, args.role, expiresAt);
    if (!key) {
        return failureFrom(key.error());
    }
    if (args.json) {
        printJson(*key);
        return std::nullopt;
    }
    std::fprintf(stderr, "created key %s for %s (role %s, expires %s); shown only this once:\n",
                 key->value("key_id", "").c_str(), key->value("user", "").c_str(),
                 key->value("role", "").c_str(), when(key->value("expires_at", 0LL)).c_str());
    std::cout << key->value("api_key", std::string()) << "\n";
    return std::nullopt;
}

Outcome runList(CtlContext& ctx, const KeyArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto keys = transport->listKeys(args.user);
    if (!keys) {
        return failureFrom(keys.error());
    }
    if (args.json) {
        printJson(*keys);
        return std::nullopt;
    }
    std::printf("%-12s  %-16s  %-12s  %-20s  %-20s  %s\n", "KEY ID", "USER", "ROLE", "CREATED",
                "EXPIRES", "STATE");
    std::int64_t now = nowMs();
    for (const auto& key : *keys) {
        std::int64_t expires = key.value("expires_at", 0LL);
        std::int64_t revoked = key.value("revoked_at", 0LL);
        const char* state = revoked != 0                       ? "revoked"
                            : (expires != 0 && expires <= now) ? "expired"
                                                               : "active";
        std::printf("%-12s  %-16s  %-12s  %-20s  %-20s  %s\n", key.value("key_id", "").c_str(),
                    key.value("user", "").c_str(), key.value("role", "").c_str(),
                    when(key.value("created_at", 0LL)).c_str(), when(expires).c_str(), state);
    }
    return std::nullopt;
}

Outcome runRevoke(CtlContext& ctx, const KeyArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto key = transport->revokeKey(args.keyId);
    if (!key) {
        return failureFrom(key.error());
    }
    if (args.json) {
        printJson(*key);
    } else {
        std::printf("revoked key %s of %s\n", key->value("key_id", "").c_str(),
                    key->value("user", "").c_str());
    }
    return std::nullopt;
}

Outcome runWhoami(CtlContext& ctx, bool json) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto me = transport->hello();
    if (!me) {
        return failureFrom(me.error());
    }
    if (json) {
        printJson(*me);
    } else {
        std::printf("%s (role %s) on fetchmld %s\n", me->value("user", "").c_str(),
                    me->value("role", "").c_str(), me->value("version", "").c_str());
        // A local caller's role is "local": what it may do is what polkit grants now.
        std::string may;
        for (const auto& p : me->value("permissions", nlohmann::json::array())) {
            if (p.is_string()) {
                may += (may.empty() ? "" : " ") + p.get<std::string>();
            }
        }
        std::printf("may: %s\n", may.empty() ? "nothing (no permission granted)" : may.c_str());
    }
    return std::nullopt;
}

}  // namespace

void addKeyCommands(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<KeyArgs>();
    auto* key = app.add_subcommand("key", "Create, list and revoke API keys");
    key->require_subcommand(1);

    auto* create = key->add_subcommand("create", "Create an API key and print it once");
    create->add_option("--user", args->user, "Whose key (default: yourself; others: admin)");
    create->add_option("--role", args->role, "The key's role (default: the user's role)");
    create->add_option("--expires", args->expires, "Lifetime, e.g. 90d, 12h, 2w (default: never)");
    create->add_flag("--json", args->json, "Print the key as JSON");
    create->callback([&ctx, args] { ctx.outcome = runCreate(ctx, *args); });

    auto* list = key->add_subcommand("list", "List keys (never their secrets)");
    list->add_option("--user", args->user, "Only this user's keys (admin)");
    list->add_flag("--json", args->json, "Print JSON");
    list->callback([&ctx, args] { ctx.outcome = runList(ctx, *args); });

    auto* revoke = key->add_subcommand("revoke", "Revoke a key at once");
    revoke->add_option("ID", args->keyId, "Key id (the 12 hex digits after fml_)")->required();
    revoke->add_flag("--json", args->json, "Print the key as JSON");
    revoke->callback([&ctx, args] { ctx.outcome = runRevoke(ctx, *args); });

    auto* whoami = app.add_subcommand("whoami", "Show who the server takes you for");
    auto whoJson = std::make_shared<bool>(false);
    whoami->add_flag("--json", *whoJson, "Print JSON");
    whoami->callback([&ctx, whoJson] { ctx.outcome = runWhoami(ctx, *whoJson); });
}

}  // namespace fetchml::ctl
