// Natives are the C++ functions that the JS runtime (src/api/js) calls as `native.*`. They are
// split by area, one file each: room_natives.cc (sockets, requests, alarms, hibernation, the
// edge), storage_natives.cc (room.storage), platform_natives.cc (encoding, structured clone,
// random, clock, console), io_natives.cc (fetch, WebSocket client, timers), web_natives.cc
// (TextDecoder's encodings and UTS #46 on ICU), stream_natives.cc (structured clone with
// transfer, zlib streams), crypto_*.cc (crypto.subtle) and node_natives.cc (the Node built-ins).
// html_rewriter_natives.cc (HTMLRewriter's embedded glue and .wasm) has its own header.
// Every group registers the same way, with js::addFunctions. Each validates its arguments and throws a JS error itself; no C++
// exception crosses into V8. This header is for those files only.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/runtime.h"
#include "js/engine.h"

namespace partyd::api {

// Every group of natives of the runtime, on `target`; false with an exception pending on failure.
bool installRuntimeNatives(Runtime& runtime, v8::Isolate* iso, v8::Local<v8::Context> ctx,
                           v8::Local<v8::Object> target);
bool installRoomNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target);
bool installStorageNatives(Runtime& runtime, v8::Local<v8::Context> ctx,
                           v8::Local<v8::Object> target);
bool installPlatformNatives(Runtime& runtime, v8::Local<v8::Context> ctx,
                            v8::Local<v8::Object> target);
bool installIoNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target);

// ---- helpers shared by the native files ----

inline Runtime* self(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return static_cast<Runtime*>(info.Data().As<v8::External>()->Value());
}

inline void throwType(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(js::str(iso, msg)));
}

inline void throwError(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::Error(js::str(iso, msg)));
}

inline void throwRange(v8::Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::RangeError(js::str(iso, msg)));
}

inline std::uint64_t handleArg(const v8::FunctionCallbackInfo<v8::Value>& info, int i) {
  if (info.Length() <= i || !info[i]->IsNumber()) return 0;
  return static_cast<std::uint64_t>(info[i].As<v8::Number>()->Value());
}

// A header list from JS: either flat, [name, value, name, value, ...] (a response's parts), or a
// list of [name, value] pairs.
inline std::vector<std::pair<std::string, std::string>> headerPairs(v8::Isolate* iso, v8::Local<v8::Value> v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!v->IsArray()) return out;
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  auto arr = v.As<v8::Array>();
  const uint32_t length = arr->Length();
  v8::Local<v8::Value> first;
  if (length > 0 && arr->Get(ctx, 0).ToLocal(&first) && first->IsString()) {
    out.reserve(length / 2);
    for (uint32_t i = 0; i + 1 < length; i += 2) {
      v8::Local<v8::Value> k, val;
      if (!arr->Get(ctx, i).ToLocal(&k) || !arr->Get(ctx, i + 1).ToLocal(&val)) break;
      out.emplace_back(js::toUtf8(iso, k), js::toUtf8(iso, val));
    }
    return out;
  }
  for (uint32_t i = 0; i < length; ++i) {
    v8::Local<v8::Value> pair, k, val;
    if (!arr->Get(ctx, i).ToLocal(&pair) || !pair->IsArray()) continue;
    if (!pair.As<v8::Array>()->Get(ctx, 0).ToLocal(&k)) continue;
    if (!pair.As<v8::Array>()->Get(ctx, 1).ToLocal(&val)) continue;
    out.emplace_back(js::toUtf8(iso, k), js::toUtf8(iso, val));
  }
  return out;
}

inline std::string bodyBytes(v8::Isolate* iso, v8::Local<v8::Value> v) {
  std::string_view bytes;
  if (v->IsString()) return js::toUtf8(iso, v);
  if (js::bufferBytes(v, &bytes)) return std::string(bytes);
  return {};
}

}  // namespace partyd::api
