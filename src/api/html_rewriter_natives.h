// The natives behind HTMLRewriter (src/api/js/html_rewriter.js): the two halves of the
// html-rewriter-wasm package that the build embeds in the binary (CMakeLists.txt) and that a
// context loads only on its first use of HTMLRewriter. They own no state: the loaded module lives
// in the context's JS.
#pragma once

#include <v8.h>

namespace partyd::api {

// Adds to `native` (the runtime's natives object):
//   htmlRewriterScript() → the package's glue, compiled and run in the calling context: a
//     function (wasmBytes, modules, require) → the package's exports.
//   htmlRewriterWasm() → a fresh Uint8Array with lol-html's .wasm (928 KB), for the glue to
//     compile.
bool installHtmlRewriterNatives(v8::Isolate* iso, v8::Local<v8::Context> ctx,
                                v8::Local<v8::Object> native);

}  // namespace partyd::api
