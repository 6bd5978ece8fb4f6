#pragma once
// MetricParser: recognises the two ways a job reports metrics (DESIGN.md §4):
//   a line printed on stdout or stderr:   fetchml:metric step=3 loss=0.41 acc=0.9
//   a JSON line in results/metrics.jsonl:  {"step": 3, "loss": 0.41, "acc": 0.9}
// Pure functions, no state.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fetchml {

/// One metric record: an optional step and at least one named finite value.
struct Metric {
    std::optional<std::int64_t> step;      ///< step=..., an integer >= 0; absent = not given
    std::map<std::string, double> values;  ///< name -> value, names [A-Za-z0-9_./-]{1,64}
};

/// Parsers for metric lines.
class MetricParser {
public:
    /// Parses "fetchml:metric key=value ..." (leading blanks and a trailing '\r' allowed;
    /// tokens separated by spaces or tabs). step must be a non-negative integer; every other
    /// value a finite decimal number (strtod syntax, no inf/nan). Any malformed token, or no
    /// value besides step, makes the whole line not a metric (nullopt): it is then just log.
    static std::optional<Metric> parseLine(std::string_view line);

    /// Parses one JSON line of metrics.jsonl: an object whose "step" (optional) is a
    /// non-negative integer and whose other members with finite number values are metrics;
    /// members of other types are ignored. nullopt for invalid JSON, a non-object, a bad step
    /// or no numeric member.
    static std::optional<Metric> parseJsonLine(std::string_view line);

    /// True for a metric name: 1 to 64 bytes of [A-Za-z0-9_./-].
    static bool isMetricName(std::string_view name);
};

}  // namespace fetchml
