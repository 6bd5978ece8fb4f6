#include "ErrorResponse.hpp"

#include <nlohmann/json.hpp>

namespace fetchml::edge {

ErrorResponse ErrorResponse::from(const Error& error) {
    return from(static_cast<unsigned>(httpStatus(error.code)), error);
}

ErrorResponse ErrorResponse::from(unsigned status, const Error& error) {
    return ErrorResponse{status, json(error.code, error.message)};
}

std::string ErrorResponse::json(ErrorCode code, const std::string& message) {
    nlohmann::json json{{"error", {{"code", errorCodeName(code)}, {"message", message}}}};
    return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fetchml::edge
