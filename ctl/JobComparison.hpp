#pragma once
// JobComparison: what `fetchmlctl compare ID ID...` shows: the jobs' parameters, final metrics
// and how they ran side by side, and how their code trees differ (issue 6, point 5).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "store/Manifest.hpp"

namespace fetchml::ctl {

/// One line of the comparison: a field and its value in each job, in the order the jobs were
/// given ("" where a job has no such parameter or metric).
struct ComparisonRow {
    std::string field;                ///< "state", "param lr", "metric loss", ...
    std::vector<std::string> values;  ///< one per job
    bool differs = false;             ///< not every value is the same
};

/// The rows comparing jobs, each a GetJob dictionary as JSON (the shape `status ID --json`
/// prints): state, exit_code, image, commit (12 hex digits); where any job reads datasets,
/// data (its "NAME@VERSION" list, space-separated) and "data <name>" (the tree it read of
/// that dataset, 12 hex digits) for every dataset any job reads; then command
/// (space-separated), duration_s (finished_at - started_at, one decimal; "" until finished),
/// then "param <name>" for every parameter any job has, then "metric <name>" for every final
/// metric (%g), names sorted bytewise. Missing fields give "".
std::vector<ComparisonRow> compareJobs(const std::vector<nlohmann::json>& jobs);

/// One file that differs between two trees.
struct TreeChange {
    std::string path;  ///< relative path, as in the manifest
    char kind = 'M';   ///< 'A' only in the other tree, 'D' only in the base, 'M' content or mode
};

/// The files that differ from base to other, sorted by path (both manifests are sorted, so
/// one merge pass).
std::vector<TreeChange> diffTrees(const Manifest& base, const Manifest& other);

}  // namespace fetchml::ctl
