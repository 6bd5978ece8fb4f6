// Fuzz target: the worker socket as fetchml-workerd reads it (docs/architecture/decisions.md
// "Worker socket", fetchmld -> worker), and the job output it parses for metrics. Lines are
// split with LineBuffer like WorkerConnection does; each line is decoded as WorkerServer does
// (a JSON object with a string "type"), a "run" message's job is validated with parseRunSpec
// as PodmanExecutor::run does, and every line is also tried as a metric line and as a
// metrics.jsonl line (MetricParser), which come from the container.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "MetricParser.hpp"
#include "RunSpec.hpp"
#include "proto/LineBuffer.hpp"

namespace {

void checkMetric(const std::optional<fetchml::Metric>& metric) {
    if (!metric) {
        return;
    }
    if (metric->step && *metric->step < 0) {
        std::abort();
    }
    for (const auto& [name, value] : metric->values) {
        if (!fetchml::MetricParser::isMetricName(name) || !std::isfinite(value)) {
            std::abort();
        }
    }
}

void handleLine(const std::string& line) {
    checkMetric(fetchml::MetricParser::parseLine(line));
    checkMetric(fetchml::MetricParser::parseJsonLine(line));
    auto msg = nlohmann::json::parse(line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object() || !msg.contains("type") ||
        !msg["type"].is_string()) {
        return;
    }
    const auto type = msg["type"].get<std::string>();
    if (type == "hello") {
        auto version = msg.find("version");
        if (version != msg.end() && version->is_number_integer()) {
            (void)version->get<int>();
        }
    } else if (type == "run") {
        const auto job = msg.value("job", nlohmann::json::object());
        auto spec = fetchml::parseRunSpec(job, "/var/lib/fetchml/runs");
        if (spec && (!fetchml::isSafeName(spec->id) || spec->command.empty() ||
                     spec->runDir.rfind("/var/lib/fetchml/runs/", 0) != 0)) {
            std::abort();  // parseRunSpec let through what it promises to refuse
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fetchml::LineBuffer lines(1u << 16);
    lines.append(reinterpret_cast<const char*>(data), size);
    lines.append("\n", 1);
    while (auto line = lines.next()) {
        handleLine(*line);
    }
    return 0;
}
