// The natives behind the web platform's text and URL work that needs Unicode data, on ICU (the
// same ICU 72 that V8's libnode links): TextDecoder for the legacy and UTF-16 encodings of the
// WHATWG Encoding Standard, and the URL Standard's domain to ASCII (UTS #46). The JS layer
// (src/api/js/web/encoding.js, url_host.js) owns labels, BOM handling and the fast paths.
#pragma once

#include <v8.h>

namespace partyd::api {

// Adds textDecoderOpen, textDecoderDecode and domainToASCII to `native` (the runtime's natives
// object):
//   textDecoderOpen(name, fatal) → a decoder handle, for a WHATWG encoding name other than
//     utf-8 and replacement (which the JS layer handles); throws RangeError for other names.
//   textDecoderDecode(handle, bytes, flush) → the string decoded from `bytes` (a BufferSource),
//     keeping an incomplete sequence in the handle until the next call unless `flush`; with
//     fatal, an invalid sequence throws TypeError and resets the decoder.
//   domainToASCII(domain) → the ASCII form of a domain by UTS #46 ToASCII with the URL
//     Standard's flags (beStrict false), or null when it fails or is empty.
bool installWebNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx, v8::Local<v8::Object> native);

}  // namespace partyd::api
