// `path` for html-rewriter-wasm: it only joins __dirname with its .wasm's name, which the fs shim
// ignores.
module.exports = { join: (...parts) => parts.join("/") };
