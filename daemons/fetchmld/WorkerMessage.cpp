#include "WorkerMessage.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace fetchml {
namespace {

using nlohmann::json;

Error fieldError(const char* name, const char* what) {
    // Appended step by step: GCC 12 warns falsely (-Wrestrict) on chained operator+.
    std::string message = "field '";
    message.append(name).append("': expected ").append(what);
    return makeError(ErrorCode::InvalidArgument, message);
}

/// An integer member of `object` that must fit T; absent gives `fallback`.
template <typename T>
Result<T> integerField(const json& object, const char* name, T fallback) {
    auto it = object.find(name);
    if (it == object.end()) {
        return fallback;
    }
    if (it->is_number_unsigned()) {
        auto value = it->get<std::uint64_t>();
        if (std::in_range<T>(value)) {
            return static_cast<T>(value);
        }
    } else if (it->is_number_integer()) {
        auto value = it->get<std::int64_t>();
        if (std::in_range<T>(value)) {
            return static_cast<T>(value);
        }
    } else if (it->is_number_float()) {
        // Compared as doubles before the conversion, which is undefined out of range.
        double value = std::trunc(it->get<double>());
        // max() + 1 is a power of two, so exact as a double.
        double limit = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
        if (std::isfinite(value) && value >= static_cast<double>(std::numeric_limits<T>::min()) &&
            value < limit) {
            return static_cast<T>(value);
        }
    }
    return fieldError(name, "an integer in range");
}

/// A string member of `object`; absent gives `fallback`.
Result<std::string> stringField(const json& object, const char* name, std::string fallback) {
    auto it = object.find(name);
    if (it == object.end()) {
        return fallback;
    }
    if (!it->is_string()) {
        return fieldError(name, "a string");
    }
    return it->get<std::string>();
}

Result<void> decodeHello(const json& object, WorkerMessage& out) {
    auto version = object.find("version");
    if (version != object.end()) {
        out.version = version->dump(-1, ' ', false, json::error_handler_t::replace);
        out.versionOk = (version->is_number_integer() && *version == 1) ||
                        (version->is_number_float() && version->get<double>() == 1.0);
    }
    if (auto it = object.find("capacity"); it != object.end() && it->is_object()) {
        auto slots = integerField<std::uint32_t>(*it, "slots", 0);
        if (!slots) {
            return slots.error();
        }
        out.capacity.slots = slots.value();
        auto memory = integerField<std::uint64_t>(*it, "memory_mib", 0);
        if (!memory) {
            return memory.error();
        }
        out.capacity.memoryMib = memory.value();
        if (auto cpus = it->find("cpus"); cpus != it->end()) {
            if (!cpus->is_number() || !(cpus->get<double>() >= 0) ||
                !std::isfinite(cpus->get<double>())) {
                return fieldError("cpus", "a number of CPUs, at least 0");
            }
            out.capacity.cpus = cpus->get<double>();
        }
        if (auto gpus = it->find("gpus"); gpus != it->end() && gpus->is_array()) {
            for (const auto& device : *gpus) {
                if (device.is_string()) {
                    out.capacity.gpus.push_back(device.get<std::string>());
                }
            }
        }
    }
    for (auto [name, list] : {std::pair{"running", &out.running}, {"finished", &out.finished}}) {
        if (auto it = object.find(name); it != object.end() && it->is_array()) {
            for (const auto& id : *it) {
                if (id.is_string()) {
                    list->push_back(id.get<std::string>());
                }
            }
        }
    }
    return {};
}

Result<void> decodeFields(const json& object, WorkerMessage& out) {
    auto id = stringField(object, "id", "");
    if (!id) {
        return id.error();
    }
    out.id = std::move(id.value());
    if (out.type == "metric") {
        if (auto it = object.find("values"); it != object.end() && it->is_object()) {
            for (const auto& [name, value] : it->items()) {
                if (value.is_number()) {
                    out.values[name] = value.get<double>();
                }
            }
        }
        auto step = integerField<std::int64_t>(object, "step", 0);
        if (!step) {
            return step.error();
        }
        out.step = step.value();
    } else if (out.type == "exited") {
        auto code = integerField<std::int32_t>(object, "exit_code", 0);
        auto signal = integerField<std::int32_t>(object, "signal", 0);
        auto reason = stringField(object, "reason", "exited");
        if (!code || !signal || !reason) {
            return !code ? code.error() : !signal ? signal.error() : reason.error();
        }
        out.exitCode = code.value();
        out.signal = signal.value();
        out.reason = std::move(reason.value());
    }
    if (out.type == "exited" || out.type == "error") {
        auto message = stringField(object, "message", "");
        if (!message) {
            return message.error();
        }
        out.message = std::move(message.value());
    }
    return {};
}

}  // namespace

Result<WorkerMessage> parseWorkerMessage(std::string_view line, std::string& type) {
    type.clear();
    auto object = json::parse(line, nullptr, false);
    if (!object.is_object() || !object.contains("type") || !object["type"].is_string()) {
        return makeError(ErrorCode::InvalidArgument, "not a JSON object with a type");
    }
    WorkerMessage out;
    out.type = object["type"].get<std::string>();
    type = out.type;
    auto decoded = out.type == "hello" ? decodeHello(object, out) : decodeFields(object, out);
    if (!decoded) {
        return decoded.error();
    }
    return out;
}

}  // namespace fetchml
