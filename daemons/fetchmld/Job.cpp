#include "Job.hpp"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace fetchml {

namespace {

std::string idFromSeq(char prefix, std::int64_t seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%c%06lld", prefix, static_cast<long long>(seq));
    return buf;
}

std::int64_t seqFromId(char prefix, const std::string& id) {
    if (id.size() < 2 || id.size() > 20 || id[0] != prefix) {
        return 0;
    }
    std::int64_t seq = 0;
    const char* begin = id.data() + 1;
    const char* end = id.data() + id.size();
    auto [ptr, ec] = std::from_chars(begin, end, seq);
    if (ec != std::errc() || ptr != end || seq <= 0 || idFromSeq(prefix, seq) != id) {
        return 0;
    }
    return seq;
}

}  // namespace

std::string jobIdFromSeq(std::int64_t seq) {
    return idFromSeq('j', seq);
}

std::int64_t seqFromJobId(const std::string& id) {
    return seqFromId('j', id);
}

std::string sweepIdFromSeq(std::int64_t seq) {
    return seq == 0 ? std::string() : idFromSeq('s', seq);
}

std::int64_t seqFromSweepId(const std::string& id) {
    return seqFromId('s', id);
}

nlohmann::json dataToJson(const std::vector<DataRef>& data) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : data) {
        out.push_back({{"name", d.name}, {"version", d.version}, {"tree", d.tree}});
    }
    return out;
}

std::vector<DataRef> dataFromJson(const nlohmann::json& json) {
    std::vector<DataRef> out;
    if (!json.is_array()) {
        return out;
    }
    for (const auto& item : json) {
        if (item.is_object() && item.value("name", nlohmann::json()).is_string() &&
            item.value("version", nlohmann::json()).is_number_integer() &&
            item.value("tree", nlohmann::json()).is_string()) {
            out.push_back(DataRef{item["name"].get<std::string>(),
                                  item["version"].get<std::int64_t>(),
                                  item["tree"].get<std::string>()});
        }
    }
    return out;
}

nlohmann::json specToJson(const JobSpec& spec) {
    return {{"name", spec.name},
            {"user", spec.user},
            {"commit", spec.commit},
            {"command", spec.command},
            {"image", spec.image},
            {"priority", spec.priority},
            {"params", spec.params},
            {"max_retries", spec.maxRetries},
            {"cpus", spec.cpus},
            {"memory_mib", spec.memoryMib},
            {"gpus", spec.gpus},
            {"max_runtime_s", spec.maxRuntimeS},
            {"data", dataToJson(spec.data)}};
}

Result<JobSpec> specFromJson(const nlohmann::json& s) {
    if (!s.is_object()) {
        return makeError(ErrorCode::InvalidArgument, "spec: missing");
    }
    try {
        JobSpec spec;
        spec.name = s.at("name").get<std::string>();
        spec.user = s.at("user").get<std::string>();
        spec.commit = s.at("commit").get<std::string>();
        spec.command = s.at("command").get<std::vector<std::string>>();
        spec.image = s.at("image").get<std::string>();
        spec.priority = s.at("priority").get<std::int32_t>();
        spec.params = s.at("params").get<std::map<std::string, std::string>>();
        spec.maxRetries = s.at("max_retries").get<std::int32_t>();
        spec.cpus = s.at("cpus").get<double>();
        spec.memoryMib = s.at("memory_mib").get<std::uint64_t>();
        spec.gpus = s.at("gpus").get<std::uint32_t>();
        spec.maxRuntimeS = s.at("max_runtime_s").get<std::uint32_t>();
        if (auto data = s.find("data"); data != s.end()) {
            spec.data = dataFromJson(*data);
        }
        if (spec.command.empty() || spec.user.empty()) {
            return makeError(ErrorCode::InvalidArgument, "spec: no command or no user");
        }
        return spec;
    } catch (const nlohmann::json::exception& e) {
        return makeError(ErrorCode::InvalidArgument, std::string("spec: ") + e.what());
    }
}

std::vector<std::string> dataNames(const std::vector<DataRef>& data) {
    std::vector<std::string> out;
    for (const auto& d : data) {
        out.push_back(d.name + "@" + std::to_string(d.version));
    }
    return out;
}

std::map<std::string, std::string> dataTrees(const std::vector<DataRef>& data) {
    std::map<std::string, std::string> out;
    for (const auto& d : data) {
        out[d.name] = d.tree;
    }
    return out;
}

}  // namespace fetchml
