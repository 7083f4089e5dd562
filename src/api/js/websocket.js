// The WebSocket global as a client: `new WebSocket("wss://...")` per the WHATWG WebSockets
// Standard, over the shard's native client (ws/ws_client.h). createWebSocketClass() returns the
// class; `dispatchers` holds what the C++ glue calls with a connection id (wsOpen, wsMessage,
// wsError, wsClose). Each connection stays in a Map from id until its close event, so a socket
// with listeners stays alive while it is open, as in browsers. Server-side sockets are party.js's
// Connection; workerd's accept() is here as a no-op so code written for both runs.
//
// Natives: wsConnect(url, protocols, headers) -> id, wsSend(id, string | Uint8Array),
// wsClose(id, code /* 0: none */, reason), wsBufferedAmount(id) -> number.

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// RFC 9110 token characters: what a subprotocol name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Bytes of s in UTF-8, lone surrogates counting as U+FFFD (3 bytes), as USVString conversion
// would make them.
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
             (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else {
      n += 3;
    }
  }
  return n;
}

// USVString conversion: lone surrogates become U+FFFD.
function toUSVString(value) {
  const s = String(value);
  return typeof s.toWellFormed === "function" ? s.toWellFormed() :
    s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

// id -> [socket, internals of its class], from construction to the close event. Ids come from
// the shard's one native client, so they are unique across classes.
const sockets = new Map();

export function createWebSocketClass(native, deps) {
  const { EventTarget, MessageEvent, CloseEvent, Event, ErrorEvent, defineEventHandler } = deps;
  // Looked up when used: the web globals may be installed after this module is evaluated.
  const DOMExceptionClass = () => deps.DOMException ?? globalThis.DOMException;
  const URLClass = () => deps.URL ?? globalThis.URL;
  const BlobClass = () => deps.Blob ?? globalThis.Blob;
  const HeadersClass = () => deps.Headers ?? globalThis.Headers;

  let internals; // set by WebSocket's static block

  function syntaxError(message) {
    const DOMException = DOMExceptionClass();
    return new DOMException(message, "SyntaxError");
  }

  function isBlob(value) {
    const Blob = BlobClass();
    return typeof Blob === "function" && value instanceof Blob;
  }

  // The constructor's second argument: a protocol, a sequence of them, or (as in undici and
  // Deno) a dictionary { protocols, headers }.
  function readProtocolsAndHeaders(arg) {
    let protocols = arg;
    let headers = [];
    if (arg !== null && typeof arg === "object" && typeof arg[Symbol.iterator] !== "function") {
      protocols = arg.protocols;
      if (arg.headers !== undefined && arg.headers !== null) {
        const Headers = HeadersClass();
        headers = [...new Headers(arg.headers)];
      }
    }
    if (protocols === undefined) protocols = [];
    else if (typeof protocols === "string" || typeof protocols[Symbol.iterator] !== "function") {
      protocols = [String(protocols)];
    } else {
      protocols = [...protocols].map(String);
    }
    const seen = new Set();
    for (const p of protocols) {
      if (!TOKEN.test(p)) {
        throw syntaxError(`Failed to construct 'WebSocket': The subprotocol '${p}' is invalid.`);
      }
      const key = p.toLowerCase();
      if (seen.has(key)) {
        throw syntaxError(`Failed to construct 'WebSocket': The subprotocol '${p}' is ` +
                          "duplicated.");
      }
      seen.add(key);
    }
    return { protocols, headers };
  }

  class WebSocket extends EventTarget {
    #id;
    #url;
    #origin;
    #readyState = CONNECTING;
    #protocol = "";
    // workerd hands binary messages over as ArrayBuffers; party code written for it expects that.
    #binaryType = "arraybuffer";
    // Messages waiting for earlier Blobs to be read, in order: { bytes | string | null, size }.
    #queue = [];
    #queuedBytes = 0;
    // Bytes passed to send() once closing: counted, never sent (WHATWG send() step 3).
    #discardedBytes = 0;
    // close() arguments held back until #queue drains, so the close frame follows the data.
    #pendingClose = null;

    constructor(url, protocols = undefined) {
      if (arguments.length < 1) {
        throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 " +
                            "present.");
      }
      super();
      const URL = URLClass();
      let record;
      try {
        record = new URL(String(url));
      } catch {
        throw syntaxError(`Failed to construct 'WebSocket': The URL '${url}' is invalid.`);
      }
      if (record.protocol === "http:") record.protocol = "ws:";
      else if (record.protocol === "https:") record.protocol = "wss:";
      if (record.protocol !== "ws:" && record.protocol !== "wss:") {
        throw syntaxError("Failed to construct 'WebSocket': The URL's scheme must be either " +
                          `'http', 'https', 'ws', or 'wss'. '${record.protocol}' is not allowed.`);
      }
      if (record.href.includes("#")) {
        throw syntaxError("Failed to construct 'WebSocket': The URL contains a fragment " +
                          `identifier ('${record.hash}'). Fragment identifiers are not allowed ` +
                          "in WebSocket URLs.");
      }
      const init = readProtocolsAndHeaders(protocols);
      this.#url = record.href;
      this.#origin = `${record.protocol === "wss:" ? "https:" : "http:"}//${record.host}`;
      this.#id = native.wsConnect(this.#url, init.protocols, init.headers);
      sockets.set(this.#id, [this, internals]);
    }

    get url() {
      return this.#url;
    }
    get readyState() {
      return this.#readyState;
    }
    get protocol() {
      return this.#protocol;
    }
    get extensions() {
      return "";
    }
    get bufferedAmount() {
      const native_ = this.#readyState === CLOSED ? 0 : native.wsBufferedAmount(this.#id);
      return native_ + this.#queuedBytes + this.#discardedBytes;
    }
    get binaryType() {
      return this.#binaryType;
    }
    set binaryType(value) {
      const type = String(value);
      // An enumerated attribute: other values are ignored.
      if (type === "blob" || type === "arraybuffer") this.#binaryType = type;
    }

    // workerd's server-side API; a client socket is accepted already.
    accept() {}

    send(data) {
      if (arguments.length < 1) {
        throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but " +
                            "only 0 present.");
      }
      if (this.#readyState === CONNECTING) {
        const DOMException = DOMExceptionClass();
        throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING " +
                               "state.", "InvalidStateError");
      }
      let item;
      if (typeof data === "string") {
        item = { value: data, size: utf8Length(data) };
      } else if (data instanceof ArrayBuffer) {
        item = { value: new Uint8Array(data.slice(0)), size: data.byteLength };
      } else if (ArrayBuffer.isView(data)) {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
        item = { value: bytes, size: bytes.byteLength };
      } else if (isBlob(data)) {
        item = { value: null, size: data.size };
      } else {
        const s = toUSVString(data);
        item = { value: s, size: utf8Length(s) };
      }
      if (this.#readyState !== OPEN || this.#pendingClose !== null) {
        this.#discardedBytes += item.size;
        return;
      }
      if (item.value !== null && this.#queue.length === 0) {
        native.wsSend(this.#id, item.value);
        return;
      }
      this.#queue.push(item);
      this.#queuedBytes += item.size;
      if (item.value === null) {
        data.arrayBuffer().then(
          (buffer) => {
            item.value = new Uint8Array(buffer);
            this.#pump();
          },
          () => {
            // An unreadable Blob: WHATWG has no answer; skip it rather than stall the queue.
            item.value = new Uint8Array(0);
            this.#pump();
          });
      }
    }

    // Sends queued messages whose bytes are ready, in order, then a held-back close.
    #pump() {
      while (this.#queue.length > 0 && this.#queue[0].value !== null) {
        const item = this.#queue.shift();
        this.#queuedBytes -= item.size;
        if (this.#readyState !== CLOSED) native.wsSend(this.#id, item.value);
      }
      if (this.#queue.length === 0 && this.#pendingClose !== null) {
        const [code, reason] = this.#pendingClose;
        this.#pendingClose = null;
        if (this.#readyState !== CLOSED) native.wsClose(this.#id, code, reason);
      }
    }

    close(code = undefined, reason = undefined) {
      if (code !== undefined) {
        // WebIDL [Clamp] unsigned short.
        const n = Number(code);
        code = Number.isNaN(n) ? 0 : Math.min(Math.max(Math.round(n), 0), 0xffff);
        if (code !== 1000 && (code < 3000 || code > 4999)) {
          const DOMException = DOMExceptionClass();
          throw new DOMException(`Failed to execute 'close' on 'WebSocket': The close code must ` +
                                 `be either 1000, or between 3000 and 4999. ${code} is neither.`,
                                 "InvalidAccessError");
        }
      }
      if (reason !== undefined) {
        reason = toUSVString(reason);
        if (utf8Length(reason) > 123) {
          throw syntaxError("Failed to execute 'close' on 'WebSocket': The close reason must not " +
                            "be greater than 123 UTF-8 bytes.");
        }
      } else {
        reason = "";
      }
      if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
      // No code sends a close frame without one, unless there is a reason to carry.
      const wireCode = code !== undefined ? code : reason !== "" ? 1000 : 0;
      const wasConnecting = this.#readyState === CONNECTING;
      this.#readyState = CLOSING;
      if (!wasConnecting && this.#queue.length > 0) {
        this.#pendingClose = [wireCode, reason];
        return;
      }
      // While connecting, the native side fails the connection: error, then close with 1006.
      native.wsClose(this.#id, wireCode, reason);
    }

    static {
      internals = {
        open(ws, protocol) {
          if (ws.#readyState !== CONNECTING) return;
          ws.#readyState = OPEN;
          ws.#protocol = String(protocol ?? "");
          ws.dispatchEvent(new Event("open"));
        },
        message(ws, isBinary, data) {
          if (ws.#readyState !== OPEN) return;
          if (isBinary) {
            if (ArrayBuffer.isView(data)) {
              data = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
            }
            if (ws.#binaryType === "blob") {
              const Blob = BlobClass();
              data = new Blob([data]);
            }
          } else {
            data = String(data);
          }
          ws.dispatchEvent(new MessageEvent("message", { data, origin: ws.#origin }));
        },
        error(ws, message) {
          if (ws.#readyState === CLOSED) return;
          const event = typeof ErrorEvent === "function" ?
            new ErrorEvent("error", { message: String(message ?? "") }) : new Event("error");
          ws.dispatchEvent(event);
        },
        close(ws, code, reason, wasClean) {
          if (ws.#readyState === CLOSED) return;
          ws.#readyState = CLOSED;
          ws.#queue = [];
          ws.#queuedBytes = 0;
          ws.#pendingClose = null;
          ws.dispatchEvent(new CloseEvent("close", {
            code: Number(code),
            reason: String(reason ?? ""),
            wasClean: Boolean(wasClean),
          }));
        },
      };
    }
  }

  for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSING", CLOSING],
                               ["CLOSED", CLOSED]]) {
    Object.defineProperty(WebSocket, name, { value, enumerable: true });
    Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
  }
  for (const type of ["open", "message", "error", "close"]) {
    defineEventHandler(WebSocket.prototype, type);
  }
  for (const name of ["url", "readyState", "protocol", "extensions", "bufferedAmount",
                      "binaryType", "send", "close"]) {
    const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
    Object.defineProperty(WebSocket.prototype, name, { ...desc, enumerable: true });
  }
  Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, {
    value: "WebSocket",
    configurable: true,
  });

  return WebSocket;
}

// Called by the C++ glue with the id wsConnect returned. Unknown ids are ignored.
export const dispatchers = {
  wsOpen(id, protocol) {
    const entry = sockets.get(id);
    if (entry) entry[1].open(entry[0], protocol);
  },
  // data: a string for text, an ArrayBuffer (or a Uint8Array) for binary.
  wsMessage(id, isBinary, data) {
    const entry = sockets.get(id);
    if (entry) entry[1].message(entry[0], isBinary, data);
  },
  wsError(id, message) {
    const entry = sockets.get(id);
    if (entry) entry[1].error(entry[0], message);
  },
  wsClose(id, code, reason, wasClean) {
    const entry = sockets.get(id);
    if (!entry) return;
    sockets.delete(id);
    entry[1].close(entry[0], code, reason, wasClean);
  },
  // Connections not yet closed, for tests and leak checks.
  wsOpenCount() {
    return sockets.size;
  },
};
