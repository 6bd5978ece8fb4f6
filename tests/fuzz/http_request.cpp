// Fuzz target: HTTP request handling of fetchml-httpsd up to the D-Bus call, as
// HttpServer's Session does it: Beast's request parser reads the line and headers (16 KiB
// limit, a body limit), then the route table (Router::match), the Authorization header
// (Router::bearerToken), the access-log target (Router::redactTarget), the WebSocket upgrade
// test, and for JSON routes the body through jsonBodyRequest. The caps here are smaller than
// https.max_header_bytes / https.max_json_bytes allow; fuzz inputs are at most 8 KiB anyway.
// Several requests may follow one another in the input (keep-alive).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <variant>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "fetchml-httpsd/ErrorResponse.hpp"
#include "fetchml-httpsd/JsonBody.hpp"
#include "fetchml-httpsd/Router.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using fetchml::edge::Route;
using fetchml::edge::RouteError;
using fetchml::edge::RouteMatch;
using fetchml::edge::Router;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 1 << 20;
constexpr std::uint64_t kMaxJsonBytes = 64 * 1024;

/// Feeds the parser from `input`, as async_read_header/async_read do; the bytes consumed.
template <typename Parser>
std::size_t feed(Parser& parser, std::string_view input, bool headerOnly, beast::error_code& ec) {
    std::size_t used = 0;
    while (used < input.size() && !(headerOnly ? parser.is_header_done() : parser.is_done())) {
        std::size_t n =
            parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
        used += n;
        if (ec == http::error::need_more) {
            ec = {};
            if (n == 0) {
                break;
            }
            continue;
        }
        if (ec) {
            break;
        }
    }
    if (!ec && used == input.size() && !(headerOnly ? parser.is_header_done() : parser.is_done())) {
        parser.put_eof(ec);
    }
    return used;
}

bool isJsonRoute(Route route) {
    return route == Route::BlobsMissing || route == Route::CommitPut || route == Route::JobSubmit ||
           route == Route::UserAdd;
}

/// One request from the front of `input`; the bytes it took, or nullopt to close.
std::optional<std::size_t> serveOne(std::string_view input) {
    http::request_parser<http::empty_body> header;
    header.header_limit(kMaxHeaderBytes);
    header.body_limit(kMaxBodyBytes);
    beast::error_code ec;
    std::size_t used = feed(header, input, true, ec);
    if (ec) {
        auto error = fetchml::makeError(fetchml::ErrorCode::InvalidArgument,
                                        "malformed HTTP request: " + ec.message());
        (void)fetchml::edge::ErrorResponse::from(error);
        return std::nullopt;
    }
    const auto& req = header.get();
    std::string method(req.method_string());
    std::string target(req.target());
    (void)Router::redactTarget(target);
    auto routed = Router::match(method, target);
    if (auto* bad = std::get_if<RouteError>(&routed)) {
        (void)fetchml::edge::ErrorResponse::from(bad->error);
        return header.is_done() ? std::optional<std::size_t>(used) : std::nullopt;
    }
    auto& match = std::get<RouteMatch>(routed);
    auto authorization = req[http::field::authorization];
    std::string key = Router::bearerToken({authorization.data(), authorization.size()});
    (void)beast::websocket::is_upgrade(req);
    if (!isJsonRoute(match.route) || key.empty()) {
        return header.is_done() ? std::optional<std::size_t>(used) : std::nullopt;
    }
    http::request_parser<http::string_body> parser(std::move(header));
    parser.body_limit(kMaxJsonBytes);
    used += feed(parser, input.substr(used), false, ec);
    if (ec || !parser.is_done()) {
        return std::nullopt;
    }
    (void)fetchml::edge::jsonBodyRequest(parser.get().body(), key);
    return parser.get().keep_alive() ? std::optional<std::size_t>(used) : std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (!input.empty()) {
        auto used = serveOne(input);
        if (!used || *used == 0 || *used > input.size()) {
            break;
        }
        input.remove_prefix(*used);
    }
    return 0;
}
