// The natives behind the web platform pieces that JS alone cannot do: structuredClone with a
// transfer list (V8's ValueSerializer, buffers moved and their sources detached), detaching an
// ArrayBuffer (ArrayBuffer.prototype.transfer), and CompressionStream / DecompressionStream on
// zlib, one z_stream per stream object. All synchronous; the JS side is src/api/js/web.
#pragma once

#include <v8.h>

#include <cstdint>

namespace partyd::api {

// Adds the stream*, clone* and detach* functions to `native` (the runtime's `native` object).
bool installStreamNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Object> native);

// zlib streams alive in this process; tests use it to see that V8 frees them.
std::int64_t liveZlibStreamCount();

}  // namespace partyd::api
