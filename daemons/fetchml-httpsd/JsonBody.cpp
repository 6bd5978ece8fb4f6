#include "JsonBody.hpp"

#include <nlohmann/json.hpp>

namespace fetchml::edge {

Result<VariantMap> jsonBodyRequest(std::string_view body, const std::string& apiKey) {
    if (body.empty()) {
        return makeError(ErrorCode::InvalidArgument, "the request body must be a JSON object");
    }
    nlohmann::json object = nlohmann::json::parse(body, nullptr, false);
    if (object.is_discarded()) {
        return makeError(ErrorCode::InvalidArgument, "the request body is not valid JSON");
    }
    if (!object.is_object()) {
        return makeError(ErrorCode::InvalidArgument, "the request body must be a JSON object");
    }
    auto map = jsonToVariantMap(object);
    if (!map) {
        return map.error();
    }
    map->erase("api_key");
    map.value()["api_key"] = sdbus::Variant(apiKey);
    return map;
}

}  // namespace fetchml::edge
