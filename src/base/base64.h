// Base64 (RFC 4648 section 4: the standard alphabet, with '=' padding) over OpenSSL's block coder,
// for the WebSocket handshake keys and the wasm modules of bundles. The JS runtime has its own
// atob/btoa and base64url in src/api/js; this one is for C++ callers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace partyd {

std::string base64Encode(std::string_view bytes);

// The bytes that `text` encodes, or nothing when it is not canonical base64: a character outside
// the alphabet (whitespace and base64url's '-' and '_' included), a length that is not a multiple
// of 4 (padding is required), '=' anywhere but in the last two places, or unused low bits of the
// last character that are not zero. So for any `text` accepted, base64Encode(bytes) == text.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace partyd
