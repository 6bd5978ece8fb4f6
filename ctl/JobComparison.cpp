#include "JobComparison.hpp"

#include <cstdio>
#include <map>
#include <set>

namespace fetchml::ctl {

using nlohmann::json;

namespace {

std::string text(const json& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_number_float()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", value.get<double>());
        return buf;
    }
    if (value.is_null()) {
        return "";
    }
    return value.dump();
}

std::string field(const json& job, const char* name) {
    auto it = job.find(name);
    return it == job.end() ? "" : text(*it);
}

/// The elements of a list field ("command", "data"), space-separated.
std::string joined(const json& job, const char* list) {
    std::string out;
    for (const auto& item : job.value(list, json::array())) {
        out += (out.empty() ? "" : " ") + text(item);
    }
    return out;
}

std::string duration(const json& job) {
    const auto started = job.value("started_at", std::int64_t{0});
    const auto finished = job.value("finished_at", std::int64_t{0});
    if (started <= 0 || finished < started) {
        return "";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(finished - started) / 1000.0);
    return buf;
}

/// The names of one object field ("params", "metrics") over every job, sorted.
std::set<std::string> namesOf(const std::vector<json>& jobs, const char* object) {
    std::set<std::string> names;
    for (const auto& job : jobs) {
        const json values = job.value(object, json::object());
        for (const auto& [name, _] : values.items()) {
            names.insert(name);
        }
    }
    return names;
}

}  // namespace

std::vector<ComparisonRow> compareJobs(const std::vector<json>& jobs) {
    std::vector<ComparisonRow> rows;
    auto add = [&](std::string name, auto valueOf) {
        ComparisonRow row{std::move(name), {}, false};
        for (const auto& job : jobs) {
            row.values.push_back(valueOf(job));
        }
        for (const auto& v : row.values) {
            row.differs = row.differs || v != row.values.front();
        }
        rows.push_back(std::move(row));
    };
    add("state", [](const json& j) { return field(j, "state"); });
    add("exit_code", [](const json& j) { return field(j, "exit_code"); });
    add("image", [](const json& j) { return field(j, "image"); });
    add("commit", [](const json& j) { return field(j, "commit").substr(0, 12); });
    const auto datasets = namesOf(jobs, "data_trees");
    if (!datasets.empty()) {
        add("data", [](const json& j) { return joined(j, "data"); });
        // The tree each job read per dataset: the same version number is the same tree, but
        // two versions may hold the same tree, and only the tree says what the job saw.
        for (const auto& name : datasets) {
            add("data " + name, [&](const json& j) {
                const auto trees = j.value("data_trees", json::object());
                auto it = trees.find(name);
                return it == trees.end() ? std::string() : text(*it).substr(0, 12);
            });
        }
    }
    add("command", [](const json& j) { return joined(j, "command"); });
    add("duration_s", duration);
    for (const char* object : {"params", "metrics"}) {
        const std::string prefix = object == std::string("params") ? "param " : "metric ";
        for (const auto& name : namesOf(jobs, object)) {
            add(prefix + name, [&](const json& j) {
                const auto values = j.value(object, json::object());
                auto it = values.find(name);
                return it == values.end() ? std::string() : text(*it);
            });
        }
    }
    return rows;
}

std::vector<TreeChange> diffTrees(const Manifest& base, const Manifest& other) {
    std::vector<TreeChange> changes;
    const auto& a = base.entries();
    const auto& b = other.entries();
    std::size_t i = 0, k = 0;
    while (i < a.size() || k < b.size()) {
        if (k == b.size() || (i < a.size() && a[i].path < b[k].path)) {
            changes.push_back({a[i++].path, 'D'});
        } else if (i == a.size() || b[k].path < a[i].path) {
            changes.push_back({b[k++].path, 'A'});
        } else {
            if (a[i].sha256 != b[k].sha256 || a[i].mode != b[k].mode) {
                changes.push_back({a[i].path, 'M'});
            }
            ++i;
            ++k;
        }
    }
    return changes;
}

}  // namespace fetchml::ctl
