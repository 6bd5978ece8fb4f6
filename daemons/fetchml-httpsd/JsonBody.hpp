#pragma once
// JsonBody: the JSON body of a request as the a{sv} dictionary sent to fetchmld
// (docs/architecture/decisions.md "HTTPS API", "D-Bus interface"). Pure, so it is fuzzed on
// its own (tests/fuzz/json_body.cpp).

#include <string>
#include <string_view>

#include "core/Result.hpp"
#include "proto/VariantJson.hpp"

namespace fetchml::edge {

/// Parses `body` (RFC 8259) into a{sv} (common/proto/VariantJson rules) and sets "api_key" to
/// `apiKey`, replacing any "api_key" of the body: the header's key always wins.
/// Errors (InvalidArgument): an empty body or one that is not a JSON object, invalid JSON,
/// and the conversion errors of jsonToVariantMap (nulls in arrays, nesting over 32 levels).
Result<VariantMap> jsonBodyRequest(std::string_view body, const std::string& apiKey);

}  // namespace fetchml::edge
