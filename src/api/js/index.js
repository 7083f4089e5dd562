// The runtime script that runs once per shard context, before the user's bundle: it installs the
// web platform globals and the PartyKit facade, and leaves one entry object for C++ to call.
import { installWebApis, fireTimer, setSubtle, defineEventHandler } from "./web/index.js";
import { Event, EventTarget, MessageEvent, CloseEvent, ErrorEvent } from "./web/events.js";
import { createWebSocketClass, dispatchers as wsDispatchers } from "./websocket.js";
import { WebSocketPair } from "./websocket_pair.js";
import { createSubtle, CryptoKey, SubtleCrypto } from "./subtle/index.js";
import { createEntry } from "./party.js";
import { createFetch } from "./fetch.js";
import { installNodeModules } from "./node/index.js";
import { resetAsyncContext } from "./node/async_context.js";
import { installPolyfills } from "./polyfills.js";
import { installHTMLRewriter, resetHTMLRewriter } from "./html_rewriter.js";

const native = globalThis.__partyd_native;
delete globalThis.__partyd_native;

installWebApis(globalThis, native);
installPolyfills(); // after structuredClone exists: core-js's ArrayBuffer.transfer is built on it
setSubtle(createSubtle(native));
installNodeModules(globalThis);
installHTMLRewriter(globalThis, native); // loads lol-html on its first use only
const hidden = (value) => ({ value, writable: true, configurable: true });
Object.defineProperty(globalThis, "CryptoKey", hidden(CryptoKey));
Object.defineProperty(globalThis, "SubtleCrypto", hidden(SubtleCrypto));
const fetcher = createFetch(native);
Object.defineProperty(globalThis, "fetch", hidden(fetcher.fetch));

// esbuild turns `.wasm` imports into data URLs; the bundler rewrites them into calls to this.
Object.defineProperty(globalThis, "__partyd_wasm", {
  value(base64) {
    const bin = atob(base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new WebAssembly.Module(bytes);
  },
});

// The WebSocket global: an outgoing client over the shard's native WebSocket client.
const WebSocket = createWebSocketClass(native, {
  EventTarget, MessageEvent, CloseEvent, Event, ErrorEvent, defineEventHandler,
});
Object.defineProperty(WebSocket, "name", { value: "WebSocket", configurable: true }); // not WebSocket3
Object.defineProperty(globalThis, "WebSocket", hidden(WebSocket));
Object.defineProperty(globalThis, "WebSocketPair", hidden(WebSocketPair));

globalThis.__partyd_entry = {
  ...createEntry(native),
  timer: fireTimer,
  asyncContextReset() {
    resetAsyncContext();
    resetHTMLRewriter();
  },
  fetchResolved: fetcher.fetchResolved,
  fetchRejected: fetcher.fetchRejected,
  ...wsDispatchers,
};
