// `util` for html-rewriter-wasm: it takes TextDecoder and TextEncoder from it, as Node has them;
// these are the runtime's globals.
module.exports = { TextDecoder: globalThis.TextDecoder, TextEncoder: globalThis.TextEncoder };
