// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checking the client's
// Sec-WebSocket-Key, computing Sec-WebSocket-Accept and writing the 101 response. Pure functions;
// parsing the HTTP request and choosing a subprotocol belong to the HTTP and connection code.
#pragma once

#include <string>
#include <string_view>

namespace partyd::ws {

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), the Sec-WebSocket-Accept value
// (RFC 6455 1.3; mind the GUID's last group, "C5AB0DC85B11": a common misquote swaps it).
std::string acceptKey(std::string_view secWebSocketKey);

// True when key is the canonical base64 encoding of 16 bytes: 22 characters of the base64
// alphabet, the last of them carrying no stray bits, then "==".
bool isValidClientKey(std::string_view key);

// The full "HTTP/1.1 101 Switching Protocols" response, ending with the blank line. protocol, when
// not empty, is sent as Sec-WebSocket-Protocol; one that is not an HTTP token (RFC 9110 5.6.2) is
// left out rather than written, so a header can never be injected through it.
std::string buildSwitchingProtocols(std::string_view acceptKey, std::string_view protocol);

}  // namespace partyd::ws
