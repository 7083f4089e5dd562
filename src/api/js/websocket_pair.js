// WebSocketPair, as workerd has it: `new WebSocketPair()` gives two ends, 0 (the client's) and 1
// (the server's). In partyd the client end has one use, the one PartyKit projects make of it: a
// worker hook (onBeforeConnect, onFetch) returns it in `new Response(null, {status: 101,
// webSocket: client})`, and the client whose upgrade the hook answered gets a socket bridged to
// the server end. What the server end does before the bridge exists (send, close) is kept and
// replayed in order once the 101 is out; afterwards its send and close go straight to the
// client's socket, and the client's messages and close arrive on it as events.
//
// The bridge reuses the rooms of the party "" (as onSocket does): the edge upgrades the client
// into the room "pair:<id>" of its own shard, whose SocketAdapter binds the connection here.
import { EventTarget, MessageEvent, CloseEvent, defineEventHandler } from "./web/events.js";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// Server ends whose client end was handed to the edge, by pair id, until the bridge takes them.
const handedOver = new Map();
let nextPair = 1;

function checkCloseCode(code) {
  if (code === undefined) return;
  const ok = code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 &&
                               code !== 1006) || (code >= 3000 && code <= 4999);
  if (!ok) throw new TypeError(`Invalid WebSocket close code: ${code}.`);
}

class PairSocket extends EventTarget {
  #readyState = OPEN;
  #accepted = false;
  #peer = null;      // the other end
  #pending = [];     // ["send", data] | ["close", code, reason], before the bridge
  #bridge = null;    // { native, handle } once the client's socket is upgraded
  #handedOver = false;

  static _link(a, b) {
    a.#peer = b;
    b.#peer = a;
  }

  get readyState() { return this.#readyState; }
  get url() { return null; }
  get protocol() { return ""; }
  get extensions() { return ""; }

  accept() {
    if (this.#handedOver) throw new TypeError("Can't accept() a WebSocket that was returned in a Response.");
    this.#accepted = true;
  }

  send(message) {
    if (!this.#accepted && !this.#bridge) {
      throw new TypeError("You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages.");
    }
    if (this.#readyState !== OPEN) throw new TypeError("Can't call WebSocket send() after close().");
    const data = typeof message === "string" || message instanceof ArrayBuffer ||
      ArrayBuffer.isView(message) ? message : String(message);
    if (this.#bridge) this.#bridge.native.send(this.#bridge.handle, data);
    else this.#pending.push(["send", data]);
  }

  close(code, reason) {
    checkCloseCode(code);
    if (this.#readyState >= CLOSING) return;
    this.#readyState = CLOSING;
    const why = reason === undefined ? "" : String(reason);
    if (this.#bridge) this.#bridge.native.close(this.#bridge.handle, code ?? 1000, why);
    else this.#pending.push(["close", code ?? 1000, why]);
  }

  // The edge takes the client end of a 101 Response: its server end waits for the bridge.
  static _handOver(client) {
    if (!(client instanceof PairSocket) || client.#handedOver || client.#peer === null) return 0;
    client.#handedOver = true;
    const id = nextPair++;
    handedOver.set(id, client.#peer);
    return id;
  }

  // The client's socket is upgraded (connection `handle`): replays what the server end did.
  static _bridge(id, native, handle) {
    const server = handedOver.get(id);
    if (!server) return null;
    handedOver.delete(id);
    server.#bridge = { native, handle };
    for (const op of server.#pending) {
      if (op[0] === "send") native.send(handle, op[1]);
      else native.close(handle, op[1], op[2]);
    }
    server.#pending = [];
    return server;
  }

  _deliver(data) {
    if (this.#readyState !== OPEN) return;
    this.dispatchEvent(new MessageEvent("message", { data }));
  }

  _closed(code, reason, wasClean) {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
  }
}

for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSING", CLOSING],
                             ["CLOSED", CLOSED]]) {
  Object.defineProperty(PairSocket, name, { value, enumerable: true });
  Object.defineProperty(PairSocket.prototype, name, { value, enumerable: true });
}
for (const type of ["message", "error", "close"]) defineEventHandler(PairSocket.prototype, type);
Object.defineProperty(PairSocket.prototype, Symbol.toStringTag, { value: "WebSocket", configurable: true });

export class WebSocketPair {
  constructor() {
    const client = new PairSocket();
    const server = new PairSocket();
    PairSocket._link(client, server);
    Object.defineProperty(this, 0, { value: client, enumerable: true });
    Object.defineProperty(this, 1, { value: server, enumerable: true });
  }
}

export const handOverPairClient = (ws) => PairSocket._handOver(ws);
export const bridgePair = (id, native, handle) => PairSocket._bridge(id, native, handle);
