// Fuzz target: route matching of fetchml-httpsd (Router::match: method, path segments, query
// parsing and percent-decoding), the access-log redaction of the target and the
// Authorization header parser. Input: "<method>\n<target>\n<authorization header>".

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "fetchml-httpsd/Router.hpp"

namespace {

std::string_view cut(std::string_view& rest) {
    auto pos = rest.find('\n');
    std::string_view part = rest.substr(0, pos);
    rest = pos == std::string_view::npos ? std::string_view() : rest.substr(pos + 1);
    return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using fetchml::edge::Router;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    std::string_view method = cut(rest);
    std::string_view target = cut(rest);
    std::string_view header = rest;

    auto matched = Router::match(method, target);
    if (auto* error = std::get_if<fetchml::edge::RouteError>(&matched)) {
        if (error->status != 400 && error->status != 404 && error->status != 405) {
            std::abort();
        }
        if ((error->status == 405) == error->allow.empty()) {
            std::abort();  // 405 and only 405 carries Allow
        }
    } else {
        (void)fetchml::edge::routeName(std::get<fetchml::edge::RouteMatch>(matched).route);
    }
    std::string redacted = Router::redactTarget(target);
    if (redacted.size() > target.size() + 3 * (target.size() / 2 + 1)) {
        std::abort();
    }
    (void)Router::percentDecode(target, true);
    (void)Router::percentDecode(target, false);
    std::string token = Router::bearerToken(header);
    if (token.size() > header.size()) {
        std::abort();
    }
    return 0;
}
