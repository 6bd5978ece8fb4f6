#include "RunSpec.hpp"

#include <algorithm>
#include <set>

#include "CdiDevices.hpp"
#include "store/DatasetRef.hpp"

namespace fetchml {
namespace {

Error invalid(const std::string& message) {
    return makeError(ErrorCode::InvalidArgument, "run: " + message);
}

bool isEnvName(const std::string& name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// An absolute path whose components are all non-empty and neither "." nor "..".
bool isNormalAbsolute(const std::string& path) {
    if (path.size() < 2 || path[0] != '/' || path.back() == '/' ||
        path.find('\0') != std::string::npos) {
        return false;
    }
    std::size_t start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        auto part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        start = end + 1;
    }
    return true;
}

Result<std::string> stringField(const nlohmann::json& job, const char* key) {
    auto it = job.find(key);
    if (it == job.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        return invalid(std::string("job.") + key + ": expected a non-empty string");
    }
    return it->get<std::string>();
}

template <typename T>
Result<T> numberField(const nlohmann::json& job, const char* key) {
    auto it = job.find(key);
    if (it == job.end() || it->is_null()) {
        return T{};
    }
    if (!it->is_number() || it->get<double>() < 0) {
        return invalid(std::string("job.") + key + ": expected a number >= 0");
    }
    return it->get<T>();
}

Result<void> checkImage(const std::string& image) {
    if (image.rfind("rootfs:", 0) == 0) {
        if (!isSafeName(image.substr(7))) {
            return invalid("job.image: rootfs name must match [A-Za-z0-9._-]+");
        }
        return {};
    }
    bool printable =
        std::all_of(image.begin(), image.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (image[0] == '-' || !printable) {
        return invalid("job.image: not a valid image reference");
    }
    return {};
}

Result<void> readCommandAndEnv(const nlohmann::json& job, RunSpec& spec) {
    auto cmd = job.find("command");
    if (cmd == job.end() || !cmd->is_array() || cmd->empty()) {
        return invalid("job.command: expected a non-empty array of strings");
    }
    for (const auto& arg : *cmd) {
        if (!arg.is_string() || arg.get_ref<const std::string&>().find('\0') != std::string::npos) {
            return invalid("job.command: expected a non-empty array of strings");
        }
        spec.command.push_back(arg.get<std::string>());
    }
    auto env = job.find("env");
    if (env == job.end() || env->is_null()) {
        return {};
    }
    if (!env->is_object()) {
        return invalid("job.env: expected an object of strings");
    }
    for (const auto& [name, value] : env->items()) {
        if (!isEnvName(name)) {
            return invalid("job.env: '" + name + "' is not a valid variable name");
        }
        if (!value.is_string() || value.get_ref<const std::string&>().find_first_of(
                                      std::string("\n\r\0", 3)) != std::string::npos) {
            return invalid("job.env." + name + ": expected a string without newlines");
        }
        spec.env[name] = value.get<std::string>();
    }
    return {};
}

// A path podman's -v can take as the source: normalized, absolute, strictly below root, and
// without ':' or ',' (they separate the fields of -v).
bool isMountableBelow(const std::string& path, const std::string& root) {
    return isNormalAbsolute(path) && path.rfind(root + "/", 0) == 0 &&
           path.find_first_of(":,") == std::string::npos;
}

Result<void> readData(const nlohmann::json& job, const std::string& runsRoot, RunSpec& spec) {
    auto data = job.find("data");
    if (data == job.end() || data->is_null()) {
        return {};
    }
    if (!data->is_array()) {
        return invalid("job.data: expected a list of {\"name\", \"dir\"}");
    }
    std::set<std::string> seen;
    for (const auto& item : *data) {
        if (!item.is_object()) {
            return invalid("job.data: expected a list of {\"name\", \"dir\"}");
        }
        auto name = stringField(item, "name");
        auto dir = stringField(item, "dir");
        if (!name || !dir) {
            return invalid("job.data: each entry needs the strings \"name\" and \"dir\"");
        }
        if (!isDatasetName(*name)) {
            return invalid("job.data: '" + name->substr(0, 80) +
                           "' is not a dataset name (store/DatasetRef.hpp)");
        }
        if (!seen.insert(*name).second) {
            return invalid("job.data: " + *name + " is named twice");
        }
        if (!isMountableBelow(*dir, runsRoot)) {
            return invalid("job.data." + *name + ".dir: must be a normalized absolute path below " +
                           runsRoot);
        }
        spec.data.push_back(DataMount{*name, *dir});
    }
    return {};
}

}  // namespace

bool isSafeName(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.size() > 128) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

Result<RunSpec> parseRunSpec(const nlohmann::json& job, const std::string& runsRoot) {
    if (!job.is_object()) {
        return invalid("job: expected an object");
    }
    RunSpec spec;
    auto id = stringField(job, "id");
    if (!id) {
        return id.error();
    }
    if (!isSafeName(*id)) {
        return invalid("job.id: must match [A-Za-z0-9._-]+ (at most 128 bytes)");
    }
    spec.id = *id;
    auto image = stringField(job, "image");
    if (!image) {
        return image.error();
    }
    if (auto ok = checkImage(*image); !ok) {
        return ok.error();
    }
    spec.image = *image;
    auto runDir = stringField(job, "run_dir");
    if (!runDir) {
        return runDir.error();
    }
    if (!isMountableBelow(*runDir, runsRoot)) {
        return invalid("job.run_dir: must be a normalized absolute path below " + runsRoot);
    }
    spec.runDir = *runDir;
    if (auto ok = readCommandAndEnv(job, spec); !ok) {
        return ok.error();
    }
    try {
        auto cpus = numberField<double>(job, "cpus");
        auto mem = numberField<std::uint64_t>(job, "memory_mib");
        auto pids = numberField<std::uint32_t>(job, "pids_limit");
        auto runtime = numberField<std::uint64_t>(job, "max_runtime_s");
        for (const Error* e :
             {cpus ? nullptr : &cpus.error(), mem ? nullptr : &mem.error(),
              pids ? nullptr : &pids.error(), runtime ? nullptr : &runtime.error()}) {
            if (e != nullptr) {
                return *e;
            }
        }
        spec.cpus = *cpus;
        spec.memoryMib = *mem;
        spec.pidsLimit = *pids;
        spec.maxRuntimeS = *runtime;
    } catch (const nlohmann::json::exception& e) {
        return invalid(std::string("job: ") + e.what());
    }
    if (auto gpus = job.find("gpus"); gpus != job.end() && !gpus->is_null()) {
        if (!gpus->is_array()) {
            return invalid("job.gpus: expected a list of CDI device names");
        }
        std::set<std::string> seen;
        for (const auto& device : *gpus) {
            if (!device.is_string() || !isCdiDeviceName(device.get<std::string>())) {
                return invalid("job.gpus: expected CDI device names (vendor/class=name)");
            }
            if (!seen.insert(device.get<std::string>()).second) {
                return invalid("job.gpus: " + device.get<std::string>() + " is named twice");
            }
            spec.gpus.push_back(device.get<std::string>());
        }
    }
    if (auto ok = readData(job, runsRoot, spec); !ok) {
        return ok.error();
    }
    return spec;
}

}  // namespace fetchml
