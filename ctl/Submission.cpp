#include "Submission.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "Commands.hpp"
#include "Duration.hpp"
#include "MemorySize.hpp"
#include "Sweep.hpp"

namespace fetchml::ctl {

namespace {

/// The resource request of `options` (--cpus, --memory, --gpus, --time) as submission fields.
/// Errors: InvalidArgument naming the flag.
Result<nlohmann::json> resourceRequest(const QueueOptions& options) {
    nlohmann::json request = nlohmann::json::object();
    if (options.cpus > 0) {
        request["cpus"] = options.cpus;
    }
    if (!options.memory.empty()) {
        auto mib = parseMemoryMib(options.memory, "--memory");
        if (!mib) {
            return mib.error();
        }
        request["memory_mib"] = *mib;
    }
    if (options.gpus > 0) {
        request["gpus"] = options.gpus;
    }
    if (!options.time.empty()) {
        auto ms = parseDurationMs(options.time, "--time");
        if (!ms) {
            return ms.error();
        }
        request["max_runtime_s"] = (*ms + 999) / 1000;
    }
    return request;
}

std::string idText(const nlohmann::json& id) {
    return id.is_string() ? id.get<std::string>() : id.dump();
}

}  // namespace

std::vector<CLI::Option*> addQueueOptions(CLI::App& cmd, QueueOptions& options) {
    std::vector<CLI::Option*> added;
    added.push_back(
        cmd.add_option("--image", options.image,
                       "Image: a podman image name or rootfs:<name> (default: the server's)"));
    added.push_back(
        cmd.add_option("--priority", options.priority, "Higher runs first (default 0)"));
    added.push_back(cmd.add_option("--retries", options.retries,
                                   "Run again after a failure or loss, up to N times, with a "
                                   "growing delay (scheduler.retry_delay_s; default 0)")
                        ->check(CLI::Range(0, 10)));
    added.push_back(
        cmd.add_option("--after", options.after,
                       "Start only after job ID has ended, however it ended (repeatable)")
            ->type_name("ID")
            ->allow_extra_args(false));
    added.push_back(
        cmd.add_option("--after-ok", options.afterOk,
                       "Start only after job ID has succeeded; fail if it does not (repeatable)")
            ->type_name("ID")
            ->allow_extra_args(false));
    added.push_back(cmd.add_option("--param", options.params,
                                   "Parameter name=value; name=v1,v2,... is a sweep (one job per "
                                   "combination, at most 10000, submitted as one group)")
                        ->type_name("K=V")
                        ->allow_extra_args(false));
    added.push_back(
        cmd.add_option("--name", options.name, "Name of the job (or of the sweep's jobs)"));
    added.push_back(
        cmd.add_option("--cpus", options.cpus,
                       "CPUs the job needs, fractions allowed (default: scheduler.default_cpus)")
            ->check(CLI::Range(0.001, 1024.0)));
    added.push_back(
        cmd.add_option("--memory", options.memory,
                       "Memory the job needs: MiB, or a whole number with M, G or T (512M, 16G)")
            ->type_name("SIZE"));
    added.push_back(
        cmd.add_option("--gpus", options.gpus, "GPU devices the job needs, each its own")
            ->check(CLI::Range(0, 64)));
    added.push_back(
        cmd.add_option("--time", options.time,
                       "Maximum run time, e.g. 30m, 12h (default and most: "
                       "worker.max_runtime_s); a short one lets the job start earlier by backfill")
            ->type_name("DURATION"));
    added.push_back(cmd.add_option("--data", options.data,
                                   "Dataset the job reads, read-only at /workspace/data/NAME: "
                                   "NAME (its latest version) or NAME@VERSION (repeatable)")
                        ->type_name("NAME[@V]")
                        ->allow_extra_args(false));
    return added;
}

Result<Submission> Submission::prepare(const QueueOptions& options) {
    auto specs = parseParams(options.params);
    if (!specs) {
        return specs.error();
    }
    auto resources = resourceRequest(options);
    if (!resources) {
        return resources.error();
    }
    Submission s;
    s.request_ = paramFields(*specs);
    s.request_["command"] = options.command;
    s.request_["priority"] = options.priority;
    if (options.retries > 0) {
        s.request_["max_retries"] = options.retries;
    }
    if (!options.after.empty()) {
        s.request_["after"] = options.after;
    }
    if (!options.afterOk.empty()) {
        s.request_["after_ok"] = options.afterOk;
    }
    if (!options.data.empty()) {
        s.request_["data"] = options.data;
    }
    if (!options.image.empty()) {
        s.request_["image"] = options.image;
    }
    if (!options.name.empty()) {
        s.request_["name"] = options.name;
    }
    s.request_.update(*resources);
    s.sweep_ = ctl::isSweep(*specs);
    return s;
}

Result<nlohmann::json> Submission::submit(Transport& transport, const std::string& commit) const {
    request_["commit"] = commit;
    return sweep_ ? transport.submitSweep(request_) : transport.submitJob(request_);
}

std::vector<std::string> submittedJobIds(const nlohmann::json& answer, bool sweep) {
    std::vector<std::string> ids;
    if (!sweep) {
        ids.push_back(answer.value("id", std::string()));
        return ids;
    }
    auto jobs = answer.find("jobs");
    if (jobs == answer.end() || !jobs->is_array()) {
        return ids;
    }
    ids.reserve(jobs->size());
    for (const auto& id : *jobs) {
        ids.push_back(idText(id));
    }
    return ids;
}

void printSubmitted(const nlohmann::json& answer, bool sweep, bool json) {
    if (!sweep) {
        if (json) {
            printJson(nlohmann::json::array({answer}));  // the shape a sweep of one always had
        } else {
            std::cout << answer.value("id", std::string()) << "\n";
        }
        return;
    }
    // One call: fetchmld expanded the product and stored every job in one transaction.
    if (json) {
        printJson(answer);
        return;
    }
    const auto ids = submittedJobIds(answer, true);
    std::string lines;
    lines.reserve(ids.size() * 8);
    for (const auto& id : ids) {
        lines += id;
        lines += '\n';
    }
    std::cout << lines << std::flush;
    // A notice, not an error: without the "fetchmlctl:" prefix errors carry.
    std::fprintf(stderr, "sweep %s: %zu jobs %s\n", answer.value("sweep", std::string()).c_str(),
                 ids.size(), answer.value("state", std::string("queued")).c_str());
}

}  // namespace fetchml::ctl
