// rewriteWasmDataUrls is the bundler's one post-processing pass. esbuild bundles `.wasm` imports
// with the dataurl loader, which leaves each module in the script as a string literal
// "data:application/wasm;base64,AGFzbQ..." (or, for a small module that happens to be valid UTF-8,
// "data:application/wasm,\0asm%01..." in percent-encoded text). workerd hands the importer a
// compiled WebAssembly.Module instead, so this pass replaces each such literal with the call
// __partyd_wasm("<base64>"), which the runtime defines to compile the bytes. It works on text only.
#pragma once

#include <string>
#include <string_view>

namespace partyd::project {

struct WasmRewrite {
  std::string code;
  int count = 0;  // literals replaced
};

// When the call is no longer than the literal it replaces, it is padded with spaces to the same
// length, so source-map columns after it on the same line stay true (minified bundles are one
// long line). Literals that cannot be decoded are left as they are.
WasmRewrite rewriteWasmDataUrls(std::string_view code);

}  // namespace partyd::project
