// Fuzz target: WebSocket frames of GET /v1/events (RFC 6455). A fixed upgrade request is put
// before the input, the whole goes through Beast's test stream into a server-side
// websocket::stream (accept, then read messages with read_message_max 4096, as EventSocket
// reads them), and each message the client sent goes to parseEventRequest
// (daemons/fetchml-httpsd/EventRequest.hpp), whose result is answered with subscribedMessage or
// errorMessage.

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "fetchml-httpsd/EventRequest.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

constexpr std::string_view kUpgrade =
    "GET /v1/events HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Authorization: Bearer fml_0123456789ab_key\r\n"
    "\r\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    boost::asio::io_context ioc;
    websocket::stream<beast::test::stream> ws(ioc);
    beast::test::stream client(ioc);  // receives what the server writes
    ws.next_layer().connect(client);
    std::string input(kUpgrade);
    input.append(reinterpret_cast<const char*>(data), size);
    ws.next_layer().append(input);
    ws.next_layer().close_remote();  // after the input, the client hung up
    ws.read_message_max(4096);
    beast::error_code ec;
    ws.accept(ec);
    if (ec) {
        return 0;
    }
    for (int messages = 0; messages < 64; ++messages) {
        beast::flat_buffer buffer;
        ws.read(buffer, ec);
        if (ec) {
            break;
        }
        std::string text = beast::buffers_to_string(buffer.data());
        auto filter = fetchml::edge::parseEventRequest(text);
        (void)(filter ? fetchml::edge::subscribedMessage(filter.value())
                      : fetchml::edge::errorMessage(filter.error()));
    }
    return 0;
}
