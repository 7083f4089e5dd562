// The natives of the web platform that need C++ (src/api/js/web): UTF-8 encoding and decoding,
// structured clone, random bytes and UUIDs, the clock of performance.now(), console output and
// queueMicrotask.
#include "api/natives.h"

#include <chrono>
#include "base/random.h"
#include "ws/utf8.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Local;
using v8::Value;

namespace {

void nUtf8Encode(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Local<v8::String> s;
  if (!info[0]->ToString(iso->GetCurrentContext()).ToLocal(&s)) return;
  int len = s->Utf8Length(iso);
  auto ab = v8::ArrayBuffer::New(iso, static_cast<std::size_t>(len));
  s->WriteUtf8(iso, static_cast<char*>(ab->Data()), len, nullptr,
               v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  info.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, static_cast<std::size_t>(len)));
}

void nUtf8EncodeInto(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  Local<v8::String> s;
  if (!info[0]->ToString(iso->GetCurrentContext()).ToLocal(&s)) return;
  if (!info[1]->IsUint8Array()) return throwType(iso, "encodeInto() needs a Uint8Array");
  auto view = info[1].As<v8::Uint8Array>();
  char* dst = static_cast<char*>(view->Buffer()->Data()) + view->ByteOffset();
  int read = 0;
  int written = s->WriteUtf8(iso, dst, static_cast<int>(view->ByteLength()), &read,
                             v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  Local<Value> pair[] = {v8::Integer::New(iso, read), v8::Integer::New(iso, written)};
  info.GetReturnValue().Set(v8::Array::New(iso, pair, 2));
}

// UTF-8 decoding with WHATWG semantics: `fatal` throws on invalid input, otherwise each invalid
// sequence becomes U+FFFD (V8's decoder does the replacement; validation is ws/'s validator).
void decodeUtf8Native(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(iso, "decode() needs a BufferSource");
  if (info[1]->IsTrue() && !ws::isValidUtf8(bytes)) {
    return throwType(iso, "The encoded data was not valid for encoding utf-8");
  }
  Local<v8::String> s;
  if (v8::String::NewFromUtf8(iso, bytes.data(), v8::NewStringType::kNormal,
                              static_cast<int>(bytes.size()))
          .ToLocal(&s)) {
    info.GetReturnValue().Set(s);
  }
}

void nSerialize(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  auto bytes = self(info)->engine()->serialize(info[0]);
  if (!bytes) {
    Local<Value> err = v8::Exception::Error(str(iso, bytes.error().message));
    if (err.As<v8::Object>()
            ->Set(iso->GetCurrentContext(), str(iso, "name"), str(iso, "DataCloneError"))
            .IsNothing()) {
      return;  // that exception is pending instead
    }
    iso->ThrowException(err);
    return;
  }
  info.GetReturnValue().Set(js::newArrayBuffer(iso, *bytes));
}

void nDeserialize(const FunctionCallbackInfo<Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(iso, "deserialize() needs a buffer");
  Local<Value> v;
  if (self(info)->engine()->deserialize(bytes).ToLocal(&v)) info.GetReturnValue().Set(v);
}

void nRandomFill(const FunctionCallbackInfo<Value>& info) {
  std::string_view bytes;
  if (!js::bufferBytes(info[0], &bytes)) return throwType(info.GetIsolate(), "expected a buffer");
  randomBytes(const_cast<char*>(bytes.data()), bytes.size());
}

void nRandomUUID(const FunctionCallbackInfo<Value>& info) {
  info.GetReturnValue().Set(str(info.GetIsolate(), randomUuid()));
}

void nNow(const FunctionCallbackInfo<Value>& info) {
  static const auto kStart = std::chrono::steady_clock::now();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - kStart)
                  .count();
  info.GetReturnValue().Set(ms);
}

void nLog(const FunctionCallbackInfo<Value>& info) {
  self(info)->log(static_cast<int>(handleArg(info, 0)), js::toUtf8(info.GetIsolate(), info[1]));
}

void nQueueMicrotask(const FunctionCallbackInfo<Value>& info) {
  if (!info[0]->IsFunction()) return throwType(info.GetIsolate(), "queueMicrotask needs a function");
  info.GetIsolate()->EnqueueMicrotask(info[0].As<v8::Function>());
}

}  // namespace

bool installPlatformNatives(Runtime& runtime, v8::Local<v8::Context> ctx, v8::Local<v8::Object> target) {
  return js::addFunctions(ctx, target,
                         {
                             {"utf8Encode", nUtf8Encode},
                             {"utf8EncodeInto", nUtf8EncodeInto},
                             {"utf8Decode", decodeUtf8Native},
                             {"serialize", nSerialize},
                             {"deserialize", nDeserialize},
                             {"randomFill", nRandomFill},
                             {"randomUUID", nRandomUUID},
                             {"now", nNow},
                             {"log", nLog},
                             {"queueMicrotask", nQueueMicrotask},
                         },
                         v8::External::New(ctx->GetIsolate(), &runtime));
}

}  // namespace partyd::api
