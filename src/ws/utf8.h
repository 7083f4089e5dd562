// UTF-8 validation for WebSocket text messages and close reasons (RFC 6455 8.1, RFC 3629). Pure
// functions over bytes: no allocation, no I/O. The rules are Unicode's Table 3-7 (well-formed byte
// sequences): overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points past U+10FFFF are
// rejected. ASCII runs are checked 8 bytes at a time.
#pragma once

#include <cstddef>
#include <string_view>

namespace partyd::ws {

// True when s is well-formed UTF-8 in full (a truncated sequence at the end is invalid).
bool isValidUtf8(std::string_view s);

enum class Utf8Status {
  kValid,       // every byte belongs to a complete, well-formed sequence
  kIncomplete,  // well-formed so far, but s ends inside a sequence that more bytes could complete
  kInvalid,     // s holds a byte sequence that no continuation can make well-formed
};

// Checks s as a prefix of a longer text, for messages that arrive in fragments. *completeLen is
// set to the length of the longest prefix made of complete sequences (s.size() when kValid, the
// start of the unfinished sequence when kIncomplete, the start of the bad sequence when kInvalid).
// To check a stream, resume from that offset once more bytes have arrived.
Utf8Status checkUtf8(std::string_view s, std::size_t* completeLen);

}  // namespace partyd::ws
