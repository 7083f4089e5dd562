// The lazily loaded half of HTMLRewriter: html-rewriter-wasm's own glue (lol-html built for
// WebAssembly with asyncify), bundled on its own (CMakeLists.txt, build/gen/html_rewriter.js) and
// embedded as a string that native.htmlRewriterScript() compiles on the first use of HTMLRewriter
// in a context. The script's value is a function of the .wasm bytes (native.htmlRewriterWasm(),
// also embedded) that returns the package's exports.
//
// The package reads its .wasm with `fs`, joins a path with `path` and takes `assert` from Node:
// the build aliases those to ./shims. Its two other requires are written require(String.raw`…`),
// which esbuild 0.17 leaves to a run-time `require`: the bundle's wrapper (the --banner in
// CMakeLists.txt) defines one over __partyd_html_rewriter_modules, filled here first.
/* global __partyd_html_rewriter_modules */
__partyd_html_rewriter_modules["./asyncify.js"] = require("html-rewriter-wasm/dist/asyncify.js");
__partyd_html_rewriter_modules.util = require("./shims/util.js");
module.exports = require("html-rewriter-wasm");
