// `fetchmlctl status [ID]`: a table of jobs, or one job in detail.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "Commands.hpp"
#include "TextFormat.hpp"

namespace fetchml::ctl {

namespace {

using nlohmann::json;

struct StatusArgs {
    std::string id;
    std::string state;
    std::uint32_t limit = 50;
    std::string before;
    std::string sweep;
    bool limitGiven = false;  ///< --limit was given (else a sweep lists all its jobs)
    bool json = false;
};

/// Local time "YYYY-MM-DD HH:MM:SS" of ms since the epoch; "-" for 0.
std::string timeText(const json& job, const char* field) {
    std::int64_t ms = job.value(field, std::int64_t{0});
    if (ms <= 0) {
        return "-";
    }
    return formatTime(ms, "%Y-%m-%d %H:%M:%S", true);
}

bool finished(const std::string& state) {
    return state == "succeeded" || state == "failed" || state == "cancelled" || state == "lost";
}

std::string exitText(const json& job) {
    // A job cancelled (or failed) before it ever started has no exit code.
    if (!finished(job.value("state", std::string())) || !job.contains("exit_code") ||
        job.value("started_at", std::int64_t{0}) == 0) {
        return "-";
    }
    return job["exit_code"].dump();
}

/// "loss=0.25 accuracy=0.9" from the last value of each metric; "-" when none.
std::string metricsText(const json& job) {
    if (!job.contains("metrics") || !job["metrics"].is_object() || job["metrics"].empty()) {
        return "-";
    }
    std::ostringstream out;
    bool first = true;
    for (const auto& [name, value] : job["metrics"].items()) {
        out << (first ? "" : " ") << name << "=";
        if (value.is_number()) {
            out << std::setprecision(4) << value.get<double>();
        } else {
            out << value.dump();
        }
        first = false;
    }
    return out.str();
}

/// "2 CPUs, 4096 MiB, 1 GPU (nvidia.com/gpu=0), at most 3600 s".
std::string resourcesText(const json& job) {
    std::ostringstream out;
    const double cpus = job.value("cpus", 0.0);
    out << cpus << (cpus == 1 ? " CPU" : " CPUs");
    if (const auto mib = job.value("memory_mib", std::uint64_t{0}); mib != 0) {
        out << ", " << mib << " MiB";
    }
    if (const auto gpus = job.value("gpus", 0u); gpus != 0) {
        out << ", " << gpus << (gpus == 1 ? " GPU" : " GPUs");
        std::string devices;
        for (const auto& device : job.value("devices", json::array())) {
            devices += (devices.empty() ? "" : ", ") +
                       (device.is_string() ? device.get<std::string>() : device.dump());
        }
        if (!devices.empty()) {
            out << " (" << devices << ")";
        }
    }
    if (const auto seconds = job.value("max_runtime_s", 0u); seconds != 0) {
        out << ", at most " << seconds << " s";
    }
    return out.str();
}

/// "mnist@3 (tree 0123456789ab) labels@1 (tree ...)": the exact dataset versions the job
/// reads and their trees; "" when it reads none.
std::string dataText(const json& job) {
    const json trees = job.value("data_trees", json::object());
    std::string out;
    for (const auto& ref : job.value("data", json::array())) {
        if (!ref.is_string()) {
            continue;
        }
        const std::string text = ref.get<std::string>();
        out += (out.empty() ? "" : " ") + text;
        auto tree = trees.find(text.substr(0, text.find('@')));
        if (tree != trees.end() && tree->is_string()) {
            out += " (tree " + tree->get<std::string>().substr(0, 12) + ")";
        }
    }
    return out;
}

void printTable(const json& jobs) {
    std::vector<std::vector<std::string>> rows = {
        {"ID", "STATE", "PRIO", "IMAGE", "SUBMITTED", "EXIT", "METRICS"}};
    for (const auto& job : jobs) {
        rows.push_back({job.value("id", std::string()), job.value("state", std::string()),
                        std::to_string(job.value("priority", 0)), job.value("image", std::string()),
                        timeText(job, "submitted_at"), exitText(job), metricsText(job)});
    }
    std::vector<std::size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line += std::string(widths[i] - row[i].size() + 2, ' ');
            }
        }
        std::cout << line << "\n";
    }
}

void printDetail(const json& job) {
    auto line = [](const char* label, const std::string& value) {
        std::cout << std::left << std::setw(11) << label << value << "\n";
    };
    line("id:", job.value("id", std::string()));
    if (job.contains("name") && job["name"].is_string() &&
        !job["name"].get<std::string>().empty()) {
        line("name:", job["name"].get<std::string>());
    }
    line("state:", job.value("state", std::string()));
    if (job.contains("reason") && job["reason"].is_string() &&
        !job["reason"].get<std::string>().empty()) {
        line("reason:", job["reason"].get<std::string>());
    }
    line("user:", job.value("user", std::string()));
    if (std::string sweep = job.value("sweep", std::string()); !sweep.empty()) {
        line("sweep:", sweep);
    }
    line("image:", job.value("image", std::string()));
    const int priority = job.value("priority", 0);
    const int effective = job.value("effective_priority", priority);
    line("priority:",
         std::to_string(priority) +
             (effective != priority ? " (effective " + std::to_string(effective) + " with aging)"
                                    : ""));
    for (const auto& [field, label] : {std::pair{"after", "after:"}, {"after_ok", "after ok:"}}) {
        std::string ids;
        for (const auto& id : job.value(field, json::array())) {
            ids += (ids.empty() ? "" : " ") + (id.is_string() ? id.get<std::string>() : "");
        }
        if (!ids.empty()) {
            line(label, ids);
        }
    }
    if (job.value("max_retries", 0) > 0) {
        line("attempt:", std::to_string(job.value("attempt", 1)) + " (up to " +
                             std::to_string(job.value("max_retries", 0) + 1) + ")");
    }
    line("needs:", resourcesText(job));
    if (!job.value("host", std::string()).empty()) {
        line("host:", job.value("host", std::string()));
    }
    if (!job.value("origin", std::string()).empty()) {
        line("origin:", job.value("origin", std::string()));
    }
    if (job.contains("waiting") && job["waiting"].is_string()) {
        line("waiting:",
             job["waiting"].get<std::string>() + (job.value("waiting_until", std::int64_t{0}) != 0
                                                      ? " (" + timeText(job, "waiting_until") + ")"
                                                      : ""));
    }
    std::vector<std::string> argv;
    for (const auto& arg : job.value("command", json::array())) {
        argv.push_back(arg.is_string() ? arg.get<std::string>() : arg.dump());
    }
    line("command:", shellWords(argv));
    line("commit:", job.value("commit", std::string()));
    if (std::string data = dataText(job); !data.empty()) {
        line("data:", data);
    }
    std::string params;
    const json paramsJson =
        job.value("params", json::object());  // named: items() keeps a reference
    for (const auto& [name, value] : paramsJson.items()) {
        params += (params.empty() ? "" : " ") + name + "=" +
                  (value.is_string() ? value.get<std::string>() : value.dump());
    }
    line("params:", params.empty() ? "-" : params);
    line("submitted:", timeText(job, "submitted_at"));
    line("started:", timeText(job, "started_at"));
    line("finished:", timeText(job, "finished_at"));
    line("exit code:", exitText(job));
    line("metrics:", metricsText(job));
    std::string results = job.value("results", std::string());
    line("results:", results.empty() ? "-" : results);
}

Outcome runStatus(CtlContext& ctx, const StatusArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    if (!args.id.empty()) {
        auto job = transport->getJob(args.id);
        if (!job) {
            return failureFrom(job.error());
        }
        args.json ? printJson(*job) : printDetail(*job);
        return std::nullopt;
    }
    // A sweep is listed whole (up to the server's page limit) unless --limit says otherwise.
    const std::uint32_t limit = !args.sweep.empty() && !args.limitGiven ? 10000 : args.limit;
    auto jobs = transport->listJobs(args.state, limit, args.before, args.sweep);
    if (!jobs) {
        return failureFrom(jobs.error());
    }
    args.json ? printJson(*jobs) : printTable(*jobs);
    return std::nullopt;
}

}  // namespace

void addStatusCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<StatusArgs>();
    auto* status = app.add_subcommand("status", "Show jobs (newest first), or one job in detail");
    status->add_option("ID", args->id, "Job id");
    status->add_option("--state", args->state, "Only jobs in this state");
    status->add_option("--sweep", args->sweep, "Only the jobs of sweep ID (all of them)")
        ->type_name("ID");
    status
        ->add_option_function<std::uint32_t>(
            "--limit",
            [args](const std::uint32_t& n) {
                args->limit = n;
                args->limitGiven = true;
            },
            "At most this many jobs (default 50; with --sweep, all)")
        ->type_name("N");
    status->add_option("--before", args->before,
                       "Only jobs older than ID (the next page: the last ID listed)");
    status->add_flag("--json", args->json, "Print JSON");
    status->callback([&ctx, args] { ctx.outcome = runStatus(ctx, *args); });
}

}  // namespace fetchml::ctl
