#include "Sweep.hpp"

#include <set>

namespace fetchml::ctl {

namespace {

bool validName(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) {
            return false;
        }
    }
    return true;
}

}  // namespace

Result<ParamSpec> parseParam(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return makeError(ErrorCode::InvalidArgument, "--param '" + std::string(text) + "': " + why);
    };
    auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        return bad("expected name=value");
    }
    ParamSpec spec;
    spec.name = std::string(text.substr(0, eq));
    if (!validName(spec.name)) {
        return bad("the name must be letters, digits and '_', not starting with a digit");
    }
    std::string_view value = text.substr(eq + 1);
    if (value.empty()) {
        return bad("empty value (give name=value, or name=v1,v2,... for a sweep)");
    }
    if (value.find(',') == std::string_view::npos) {
        spec.values.emplace_back(value);
        return spec;
    }
    std::size_t start = 0;
    while (true) {
        auto comma = value.find(',', start);
        std::string_view item = value.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty()) {
            return bad("empty value in a comma-separated sweep");
        }
        spec.values.emplace_back(item);
        if (comma == std::string_view::npos) {
            break;
        }
        start = comma + 1;
    }
    return spec;
}

Result<std::vector<ParamSpec>> parseParams(const std::vector<std::string>& texts) {
    std::vector<ParamSpec> out;
    std::set<std::string> seen;
    for (const auto& text : texts) {
        auto spec = parseParam(text);
        if (!spec) {
            return spec.error();
        }
        if (!seen.insert(spec->name).second) {
            return makeError(ErrorCode::InvalidArgument,
                             "--param '" + text + "': " + spec->name + " is given twice");
        }
        out.push_back(std::move(*spec));
    }
    return out;
}

bool isSweep(const std::vector<ParamSpec>& specs) {
    for (const auto& spec : specs) {
        if (spec.values.size() > 1) {
            return true;
        }
    }
    return false;
}

nlohmann::json paramFields(const std::vector<ParamSpec>& specs) {
    nlohmann::json params = nlohmann::json::object();
    nlohmann::json axes = nlohmann::json::array();
    for (const auto& spec : specs) {
        if (spec.values.size() == 1) {
            params[spec.name] = spec.values.front();
        } else {
            axes.push_back({{"name", spec.name}, {"values", spec.values}});
        }
    }
    nlohmann::json out = {{"params", params}};
    if (!axes.empty()) {
        out["sweep"] = axes;
    }
    return out;
}

}  // namespace fetchml::ctl
