#include "EventRequest.hpp"

#include <nlohmann/json.hpp>

namespace fetchml::edge {

namespace {

using nlohmann::json;

bool isJobId(const std::string& text) {
    if (text.empty() || text.size() > 128 || text == "." || text == "..") {
        return false;
    }
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Error invalid(const std::string& message) {
    return makeError(ErrorCode::InvalidArgument, message);
}

std::string dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<EventFilter> parseEventRequest(std::string_view text) {
    json value = json::parse(text.begin(), text.end(), nullptr, false);
    if (value.is_discarded()) {
        return invalid("the message is not valid JSON");
    }
    if (!value.is_object()) {
        return invalid("the message must be a JSON object");
    }
    EventFilter filter;
    for (const auto& [name, member] : value.items()) {
        if (name != "jobs") {
            return invalid("unknown field '" + name + "'");
        }
        if (member.is_null()) {
            continue;
        }
        if (!member.is_array()) {
            return invalid("field 'jobs': expected an array of job ids or null");
        }
        if (member.size() > kMaxEventJobs) {
            return invalid("field 'jobs': more than " + std::to_string(kMaxEventJobs) + " ids");
        }
        std::set<std::string> ids;
        for (const auto& id : member) {
            if (!id.is_string() || !isJobId(id.get<std::string>())) {
                return invalid("field 'jobs': expected job ids (1 to 128 of [A-Za-z0-9._-])");
            }
            ids.insert(id.get<std::string>());
        }
        filter.jobs = std::move(ids);
    }
    return filter;
}

bool mayWatch(const EventViewer& viewer, const std::string& owner) {
    if (viewer.role == "admin" || viewer.role == "viewer") {
        return true;
    }
    return !viewer.user.empty() && viewer.user == owner;
}

std::string jobEventMessage(const std::string& id, const std::string& state,
                            const VariantMap& props) {
    json out = json::object();
    for (const auto& [name, value] : props) {
        auto converted = variantToJson(value, name);
        if (converted) {
            out[name] = std::move(converted.value());
        }
    }
    return dump(json{{"type", "job"}, {"id", id}, {"state", state}, {"props", std::move(out)}});
}

std::string readyMessage(const EventViewer& viewer) {
    return dump(json{{"type", "ready"}, {"user", viewer.user}, {"role", viewer.role}});
}

std::string subscribedMessage(const EventFilter& filter) {
    json jobs = filter.jobs ? json(*filter.jobs) : json(nullptr);
    return dump(json{{"type", "subscribed"}, {"jobs", std::move(jobs)}});
}

std::string errorMessage(const Error& error) {
    return dump(json{{"type", "error"},
                     {"error", {{"code", errorCodeName(error.code)}, {"message", error.message}}}});
}

}  // namespace fetchml::edge
