#include "api/html_rewriter_natives.h"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "js/engine.h"

namespace partyd::api {

// build/gen/html_rewriter_js.cc and html_rewriter_wasm.cc (cmake/embed.cmake).
extern const char kHtmlRewriterScript[];
extern const std::size_t kHtmlRewriterScriptSize;
extern const unsigned char kHtmlRewriterWasm[];
extern const std::size_t kHtmlRewriterWasmSize;

namespace {

void nHtmlRewriterScript(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::ScriptOrigin origin(iso, js::str(iso, "partyd:html-rewriter-wasm"));
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> factory;
  // A compile or run error stays pending and reaches the caller as it is.
  if (!v8::Script::Compile(
           ctx, js::str(iso, std::string_view(kHtmlRewriterScript, kHtmlRewriterScriptSize)),
           &origin)
           .ToLocal(&script) ||
      !script->Run(ctx).ToLocal(&factory)) {
    return;
  }
  if (!factory->IsFunction()) {
    iso->ThrowException(v8::Exception::Error(
        js::str(iso, "partyd: the embedded html-rewriter-wasm script is not a function")));
    return;
  }
  info.GetReturnValue().Set(factory);
}

void nHtmlRewriterWasm(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* iso = info.GetIsolate();
  // A copy: the glue hands it to `new WebAssembly.Module`, and the copy is garbage after that.
  auto ab = v8::ArrayBuffer::New(iso, kHtmlRewriterWasmSize);
  std::memcpy(ab->Data(), kHtmlRewriterWasm, kHtmlRewriterWasmSize);
  info.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, kHtmlRewriterWasmSize));
}

}  // namespace

bool installHtmlRewriterNatives(v8::Isolate*, v8::Local<v8::Context> ctx,
                                v8::Local<v8::Object> native) {
  return js::addFunctions(ctx, native,
                          {
                              {"htmlRewriterScript", nHtmlRewriterScript},
                              {"htmlRewriterWasm", nHtmlRewriterWasm},
                          });
}

}  // namespace partyd::api
