// `fetchmlctl compare ID ID... [--json]`: jobs side by side (JobComparison.hpp), and the files
// each job's code differs in from the first job's.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "Commands.hpp"
#include "JobComparison.hpp"

namespace fetchml::ctl {

namespace {

struct CompareArgs {
    std::vector<std::string> ids;
    bool json = false;
};

/// The code changes of each job after the first, against the first: {id: [{"path","change"}]}
/// (change "added", "removed" or "modified"); a job with the same commit has an empty list.
/// Each commit's manifest is fetched once.
Result<nlohmann::json> codeChanges(Transport& transport, const std::vector<nlohmann::json>& jobs) {
    std::map<std::string, Manifest> trees;
    auto tree = [&](const std::string& commit) -> Result<const Manifest*> {
        if (auto it = trees.find(commit); it != trees.end()) {
            return &it->second;
        }
        auto text = transport.getManifest(commit);
        if (!text) {
            return text.error();
        }
        auto parsed = Manifest::parse(*text);
        if (!parsed) {
            return parsed.error();
        }
        return &trees.emplace(commit, std::move(*parsed)).first->second;
    };
    nlohmann::json out = nlohmann::json::object();
    const std::string baseCommit = jobs.front().value("commit", std::string());
    for (std::size_t i = 1; i < jobs.size(); ++i) {
        const std::string id = jobs[i].value("id", std::string());
        const std::string commit = jobs[i].value("commit", std::string());
        out[id] = nlohmann::json::array();
        if (commit == baseCommit) {
            continue;
        }
        auto base = tree(baseCommit);
        if (!base) {
            return base.error();
        }
        auto other = tree(commit);
        if (!other) {
            return other.error();
        }
        for (const auto& change : diffTrees(**base, **other)) {
            const char* kind = change.kind == 'A'   ? "added"
                               : change.kind == 'D' ? "removed"
                                                    : "modified";
            out[id].push_back({{"path", change.path}, {"change", kind}});
        }
    }
    return out;
}

void printTable(const std::vector<std::string>& ids, const std::vector<ComparisonRow>& rows) {
    std::vector<std::size_t> width(ids.size() + 1, 5);  // "field"
    for (std::size_t c = 0; c < ids.size(); ++c) {
        width[c + 1] = ids[c].size();
    }
    for (const auto& row : rows) {
        width[0] = std::max(width[0], row.field.size());
        for (std::size_t c = 0; c < row.values.size(); ++c) {
            width[c + 1] = std::max(width[c + 1], row.values[c].size());
        }
    }
    auto line = [&](const char* mark, const std::string& first,
                    const std::vector<std::string>& cells) {
        std::string out = mark + first + std::string(width[0] - first.size(), ' ');
        for (std::size_t c = 0; c < cells.size(); ++c) {
            out += "  " + cells[c];
            if (c + 1 < cells.size()) {
                out += std::string(width[c + 1] - cells[c].size(), ' ');
            }
        }
        std::cout << out << "\n";
    };
    line("  ", "field", ids);
    for (const auto& row : rows) {
        line(row.differs ? "* " : "  ", row.field, row.values);
    }
}

Outcome runCompare(CtlContext& ctx, const CompareArgs& args) {
    if (args.ids.size() < 2) {
        return usageFailure("compare needs at least two job ids");
    }
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    std::vector<nlohmann::json> jobs;
    for (const auto& id : args.ids) {
        auto job = transport->getJob(id);
        if (!job) {
            return failureFrom(job.error());
        }
        jobs.push_back(std::move(*job));
    }
    auto rows = compareJobs(jobs);
    auto changes = codeChanges(*transport, jobs);
    if (!changes) {
        return failureFrom(changes.error());
    }
    if (args.json) {
        nlohmann::json out{{"jobs", args.ids}, {"rows", nlohmann::json::array()}};
        for (const auto& row : rows) {
            out["rows"].push_back(
                {{"field", row.field}, {"values", row.values}, {"differs", row.differs}});
        }
        out["code_changes"] = *changes;
        printJson(out);
        return std::nullopt;
    }
    printTable(args.ids, rows);
    for (const auto& [id, list] : changes->items()) {
        if (list.empty()) {
            continue;
        }
        std::cout << "\ncode of " << id << " against " << args.ids.front() << ":\n";
        for (const auto& change : list) {
            const std::string kind = change.value("change", std::string());
            std::cout << "  "
                      << (kind == "added"     ? 'A'
                          : kind == "removed" ? 'D'
                                              : 'M')
                      << " " << change.value("path", std::string()) << "\n";
        }
    }
    return std::nullopt;
}

}  // namespace

void addCompareCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<CompareArgs>();
    auto* cmd = app.add_subcommand(
        "compare", "Jobs side by side: state, parameters, final metrics and code changes");
    cmd->add_option("ID", args->ids, "Job ids (two or more; the first is the base)")->required();
    cmd->add_flag("--json", args->json,
                  "Print {\"jobs\", \"rows\": [{\"field\", \"values\", \"differs\"}], "
                  "\"code_changes\"} as JSON");
    cmd->callback([&ctx, args] { ctx.outcome = runCompare(ctx, *args); });
}

}  // namespace fetchml::ctl
