// bundle() turns a project's server code into one ES module for V8 (with no imports left, so
// top-level await works): it writes a generated entry module, runs esbuild (a child process,
// found by findEsbuild) as an esm bundle, and
// rewrites wasm imports (wasm_literals.h). It owns the files under BundleOptions::outDir and
// nothing else; it never runs the code.
//
// The contract with the runtime that evaluates Bundle::code:
//   - After the module is evaluated, globalThis.__partyd_parties is { main: <main's default export>,
//     <party>: <default export>, ... } with the parties in config order. A module without a
//     default export is given as its whole namespace object, so the runtime can say so clearly.
//   - Before it is evaluated, the runtime defines globalThis.__partyd_wasm(base64) → WebAssembly.Module.
//   - It may define globalThis.__partyd_modules["node:<name>"] / ["cloudflare:<name>"] to supply
//     built-in modules (builtin_shims.h); any other use of them throws a clear Error.
//   - process.env.<KEY> for each Config::envFileVars key, and the defines of Config::define, are
//     compiled in; PARTYKIT_HOST is a string constant; process.env.NODE_ENV is "development"
//     ("production" when minified), as esbuild has it for partykit's browser platform.
//   - A free `process` in any module is the runtime's node:process (injected, as partykit's
//     inject-process.js does), and the envFileVars are copied into its `env` before user code.
//   - `.bin` imports are Uint8Array (esbuild's binary loader), where workerd gives an ArrayBuffer;
//     `.txt` and `.html` are strings; `.json` is the parsed value.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "project/config.h"

namespace partyd::project {

enum class SourceMap {
  kNone,
  kExternal,  // <outDir>/bundle.js.map, without sourcesContent, returned in Bundle::sourceMap
};

struct BundleOptions {
  std::filesystem::path outDir;  // e.g. <root>/.partykit/build; created if missing
  // For the PARTYKIT_HOST define, e.g. "127.0.0.1:1999"; empty means 127.0.0.1:<port or 1999>.
  std::string host;
  bool minify = false;
  SourceMap sourceMap = SourceMap::kExternal;
};

struct Bundle {
  std::string code;                           // the script, after the wasm rewrite
  std::vector<std::filesystem::path> inputs;  // absolute paths of the source files that went in
  std::filesystem::path outFile;              // where `code` was written: <outDir>/bundle.js
  std::string sourceMap;                      // source map JSON, or empty (see SourceMap)
  std::string warnings;                       // esbuild's warnings as it printed them, or empty
};

// Runs esbuild with the working directory set to config.root, so npm modules resolve from the
// project's node_modules. A failed build returns esbuild's own messages (with file:line:col and
// the offending source line). Two bundles must not share one outDir at the same time.
Result<Bundle> bundle(const Config& config, const BundleOptions& options);

// The esbuild binary: $PARTYD_ESBUILD, else node_modules/.bin/esbuild in root or a parent, else
// esbuild on $PATH. The error says how to install it.
Result<std::filesystem::path> findEsbuild(const std::filesystem::path& root);

}  // namespace partyd::project
