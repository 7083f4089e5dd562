// `fs` for html-rewriter-wasm: its one read is its own .wasm, whose bytes the loader passes in
// as __partyd_html_rewriter_wasm (the parameter of the function the bundle is wrapped in).
/* global __partyd_html_rewriter_wasm */
module.exports = { readFileSync: () => __partyd_html_rewriter_wasm };
