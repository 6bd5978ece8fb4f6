#include "MetricParser.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace fetchml {
namespace {

constexpr std::string_view kPrefix = "fetchml:metric";

std::vector<std::string_view> splitBlanks(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
            ++i;
        }
        std::size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
            ++i;
        }
        if (i > start) {
            out.push_back(s.substr(start, i - start));
        }
    }
    return out;
}

std::optional<double> parseNumber(std::string_view text) {
    if (text.empty() || text.size() > 64) {
        return std::nullopt;
    }
    std::string copy(text);
    // strtod accepts "inf", "nan" and hex floats; metrics are plain decimals.
    if (copy.find_first_not_of("0123456789+-.eE") != std::string::npos) {
        return std::nullopt;
    }
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || errno == ERANGE || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

std::optional<std::int64_t> parseStep(std::string_view text) {
    if (text.empty() || text.size() > 18 ||
        text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    return std::strtoll(std::string(text).c_str(), nullptr, 10);
}

}  // namespace

bool MetricParser::isMetricName(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '/' || c == '-';
    });
}

std::optional<Metric> MetricParser::parseLine(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    auto tokens = splitBlanks(line);
    if (tokens.size() < 2 || tokens[0] != kPrefix) {
        return std::nullopt;
    }
    Metric metric;
    for (std::size_t i = 1; i < tokens.size(); ++i) {
        auto eq = tokens[i].find('=');
        if (eq == std::string_view::npos) {
            return std::nullopt;
        }
        auto key = tokens[i].substr(0, eq);
        auto value = tokens[i].substr(eq + 1);
        if (key == "step") {
            auto step = parseStep(value);
            if (!step || metric.step) {
                return std::nullopt;
            }
            metric.step = step;
            continue;
        }
        auto number = parseNumber(value);
        if (!isMetricName(key) || !number) {
            return std::nullopt;
        }
        metric.values[std::string(key)] = *number;
    }
    if (metric.values.empty()) {
        return std::nullopt;
    }
    return metric;
}

std::optional<Metric> MetricParser::parseJsonLine(std::string_view line) {
    auto doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::nullopt;
    }
    Metric metric;
    for (const auto& [key, value] : doc.items()) {
        if (key == "step") {
            if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
                return std::nullopt;
            }
            metric.step = value.get<std::int64_t>();
            continue;
        }
        if (value.is_number() && !value.is_number_float()) {
            metric.values[key] = value.get<double>();
        } else if (value.is_number_float() && std::isfinite(value.get<double>())) {
            metric.values[key] = value.get<double>();
        }
    }
    for (auto it = metric.values.begin(); it != metric.values.end();) {
        it = isMetricName(it->first) ? std::next(it) : metric.values.erase(it);
    }
    if (metric.values.empty()) {
        return std::nullopt;
    }
    return metric;
}

}  // namespace fetchml
