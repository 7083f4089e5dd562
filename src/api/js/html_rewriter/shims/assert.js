// `assert` for html-rewriter-wasm's asyncify.js: the two checks it makes, without the whole
// assert package. A failure means the WebAssembly instance's asyncify state is broken; the
// runtime's wrapper (../../html_rewriter.js) then drops the instance. CommonJS, as the package
// calls the module itself.
function fail(message) {
  const e = new Error(message);
  e.name = "AssertionError";
  throw e;
}
function assert(value, message) {
  if (!value) fail(message ?? "HTMLRewriter: asyncify assertion failed");
}
assert.strictEqual = (actual, expected, message) => {
  if (actual !== expected) {
    fail(message ?? `HTMLRewriter: asyncify state ${actual}, expected ${expected}`);
  }
};
module.exports = assert;
