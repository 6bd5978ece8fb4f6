// `fetchmlctl pin add|list|rm`: pins keep a recorded tree (a commit or a results tree) and its
// blobs through garbage collection (decisions.md "Blob garbage collection").

#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "Commands.hpp"
#include "TextFormat.hpp"

namespace fetchml::ctl {

namespace {

struct PinArgs {
    std::string target;
    std::string note;
    bool json = false;
};

/// Runs one pin call and prints the pin it answers: as JSON, or "<verb> <kind> <target>".
Outcome printPin(const Result<nlohmann::json>& pin, const char* verb, bool json) {
    if (!pin) {
        return failureFrom(pin.error());
    }
    if (json) {
        printJson(*pin);
    } else {
        std::printf("%s %s %s\n", verb, pin->value("kind", "").c_str(),
                    pin->value("target", "").c_str());
    }
    return std::nullopt;
}

Outcome runAdd(CtlContext& ctx, const PinArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    return printPin(transport->addPin(args.target, args.note), "pinned", args.json);
}

Outcome runRemove(CtlContext& ctx, const PinArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    return printPin(transport->removePin(args.target), "unpinned", args.json);
}

Outcome runList(CtlContext& ctx, const PinArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto pins = transport->listPins();
    if (!pins) {
        return failureFrom(pins.error());
    }
    if (args.json) {
        printJson(*pins);
        return std::nullopt;
    }
    std::printf("%-64s  %-7s  %-12s  %-20s  %s\n", "TARGET", "KIND", "USER", "PINNED", "NOTE");
    for (const auto& pin : *pins) {
        std::printf("%-64s  %-7s  %-12s  %-20s  %s\n", pin.value("target", "").c_str(),
                    pin.value("kind", "").c_str(), pin.value("user", "").c_str(),
                    utcMinute(pin.value("created_at", 0LL)).c_str(), pin.value("note", "").c_str());
    }
    return std::nullopt;
}

}  // namespace

void addPinCommands(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<PinArgs>();
    auto* pin = app.add_subcommand(
        "pin", "Keep a commit or results tree and its blobs through prune's garbage collection");
    pin->require_subcommand(1);

    auto* add = pin->add_subcommand("add", "Pin a recorded commit or results tree (admin)");
    add->add_option("ID", args->target, "Commit or results tree id (64 hex digits)")->required();
    add->add_option("--note", args->note, "Why it is kept (shown by pin list)");
    add->add_flag("--json", args->json, "Print the pin as JSON");
    add->callback([&ctx, args] { ctx.outcome = runAdd(ctx, *args); });

    auto* list = pin->add_subcommand("list", "List the pins, newest first");
    list->add_flag("--json", args->json, "Print JSON");
    list->callback([&ctx, args] { ctx.outcome = runList(ctx, *args); });

    auto* rm =
        pin->add_subcommand("rm", "Remove a pin: a later prune may collect the tree (admin)");
    rm->add_option("ID", args->target, "The pinned tree's id")->required();
    rm->add_flag("--json", args->json, "Print the pin as JSON");
    rm->callback([&ctx, args] { ctx.outcome = runRemove(ctx, *args); });
}

}  // namespace fetchml::ctl
