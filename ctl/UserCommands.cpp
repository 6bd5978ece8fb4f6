// `fetchmlctl user ...`: users and API keys.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "Commands.hpp"

namespace fetchml::ctl {

namespace {

struct UserAddArgs {
    std::string name;
    std::string role;
};

Outcome runUserAdd(CtlContext& ctx, const UserAddArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto user = transport->addUser(args.name, args.role);
    if (!user) {
        return failureFrom(user.error());
    }
    std::fprintf(stderr, "created user %s with role %s; its API key (shown only this once):\n",
                 user->value("name", args.name).c_str(), user->value("role", args.role).c_str());
    // Alone on the last line of stdout so scripts can capture it: KEY=$(fetchmlctl user add ...)
    std::cout << user->value("api_key", std::string()) << "\n";
    return std::nullopt;
}

}  // namespace

void addUserCommands(CLI::App& app, CtlContext& ctx) {
    auto* user = app.add_subcommand("user", "Manage users and their API keys (admin)");
    user->require_subcommand(1);
    auto args = std::make_shared<UserAddArgs>();
    auto* add = user->add_subcommand("add", "Create a user and print its first API key once");
    add->add_option("NAME", args->name, "User name")->required();
    add->add_option("--role", args->role,
                    "A role of the server's permissions.yaml (built in: admin, researcher, viewer)")
        ->required();
    add->callback([&ctx, args] { ctx.outcome = runUserAdd(ctx, *args); });
}

}  // namespace fetchml::ctl
