// The PartyKit facade: rooms, connections, the Party.Server calling conventions (class style and
// the older object style), and the order in which a room sees its events. C++ owns sockets,
// storage and timers; it calls the entry points at the bottom, one event per turn.
//
// Event order, as on PartyKit: onStart settles before any other event reaches the room; events
// start in arrival order; while a handler awaits a timer or a fetch, later events may run.
import { requestCf } from "./cf.js";
import { makeRequest, responseParts, responsePartsSync } from "./web/index.js";
import { Storage } from "./storage.js";
import { EventTarget, MessageEvent, CloseEvent, hasListeners } from "./web/events.js";
import { createEdge, createParties } from "./edge.js";
import { bridgePair } from "./websocket_pair.js";

const OPEN = 1;
const CLOSED = 3;

function errorText(e) {
  if (e instanceof Error) return e.stack || `${e.name}: ${e.message}`;
  return String(e);
}

// PartyKit's own words for what onAlarm cannot reach.
function alarmLimitation(what) {
  return `You can not access \`${what}\` in the \`onAlarm\` handler.\n` +
    "This is a known limitation, and may be fixed in a future version of PartyKit.\n" +
    "If you access to the id, you can save it into the Room storage when setting the alarm.\n";
}

const SETTLED = Promise.resolve();

function isThenable(v) {
  return v !== null && typeof v === "object" && typeof v.then === "function";
}

function errorMessage(e) {
  return e instanceof Error ? e.message : String(e);
}

// An error with a `.code` sets the status, as in PartyKit's room fetch.
function failureStatus(e) {
  return Number.isInteger(e?.code) && e.code >= 200 && e.code <= 599 ? e.code : 500;
}

// ---- adapters: one shape for class-style and object-style servers -------------------------

const HANDLERS = ["onConnect", "onMessage", "onClose", "onError", "onRequest", "onAlarm",
                  "onBeforeConnect", "onBeforeRequest", "onFetch", "onSocket", "onCron"];

export function isClassServer(def) {
  return typeof def === "function" && def.prototype instanceof Object;
}

function checkModuleServer(name, def) {
  if (def === null || typeof def !== "object") {
    throw new TypeError(`party "${name}" has no default export: export a class that implements ` +
                        `Party.Server, or an object with its handlers`);
  }
  for (const h of HANDLERS) {
    if (h in def && typeof def[h] !== "function") {
      throw new TypeError(`party "${name}": ${h} must be a function`);
    }
  }
}

// Adapters give the room one shape for every kind of server. They are classes, so that a room
// costs one small object here and not a closure per handler (issue 5, W5: memory per room).

// A class-style server: `new Server(room)`, handlers are its methods (all optional).
class ClassAdapter {
  constructor(def, room) {
    this.server = new def(room);
    this.hibernate = (this.server.options ?? def.options ?? {}).hibernate === true;
    this.hasOnRequest = typeof this.server.onRequest === "function";
    this.hasOnAlarm = typeof this.server.onAlarm === "function";
  }
  // Each handler is optional, and may be set on the instance after construction: looked up per
  // call. Spelled out rather than one helper with rest arguments and a spread call, which cost an
  // array per event and make the room path slow for TurboFan to compile (issue 14, W2).
  onStart() {
    const s = this.server;
    return typeof s.onStart === "function" ? s.onStart() : undefined;
  }
  getConnectionTags(c, ctx) {
    const s = this.server;
    return typeof s.getConnectionTags === "function" ? s.getConnectionTags(c, ctx) : undefined;
  }
  onConnect(c, ctx) {
    const s = this.server;
    return typeof s.onConnect === "function" ? s.onConnect(c, ctx) : undefined;
  }
  onMessage(m, c) {
    const s = this.server;
    return typeof s.onMessage === "function" ? s.onMessage(m, c) : undefined;
  }
  onClose(c) {
    const s = this.server;
    return typeof s.onClose === "function" ? s.onClose(c) : undefined;
  }
  onError(c, e) {
    const s = this.server;
    return typeof s.onError === "function" ? s.onError(c, e) : undefined;
  }
  onRequest(r) { return this.server.onRequest(r); }
  onAlarm() {
    const s = this.server;
    return typeof s.onAlarm === "function" ? s.onAlarm() : undefined;
  }
}

// An object-style server (the older API): handlers take the room as their last argument.
class ModuleAdapter {
  #room;
  constructor(def, room) {
    this.server = def;
    this.#room = room;
    this.hibernate = false;
    this.hasOnRequest = typeof def.onRequest === "function";
    this.hasOnAlarm = typeof def.onAlarm === "function";
  }
  #call(fn, ...args) {
    const def = this.server;
    return typeof def[fn] === "function" ? def[fn](...args) : undefined;
  }
  onStart() { return undefined; }
  getConnectionTags() { return []; }
  onConnect(c, ctx) { return this.#call("onConnect", c, this.#room, ctx); }
  onMessage(m, c) { return this.#call("onMessage", m, c, this.#room); }
  onClose(c) { return this.#call("onClose", c, this.#room); }
  onError(c, e) { return this.#call("onError", c, e, this.#room); }
  onRequest(r) { return this.server.onRequest(r, this.#room); }
  onAlarm() { return this.#call("onAlarm", this.#room); }
}

// A WebSocket on a path that is no party URL goes to the main party's static onSocket. partyd
// gives each such socket a room of its own (party ""), so it reuses the connection machinery;
// the socket is accepted before onSocket runs, as on PartyKit.
//
// The room "pair:<n>" is the client of a worker hook that answered with a WebSocketPair's client
// end (websocket_pair.js): its connection is bridged to the pair's server end.
class SocketAdapter {
  #def;
  #rt;
  #pairId;
  #pair = null;
  constructor(mainDef, rt, id) {
    this.#def = mainDef;
    this.#rt = rt;
    this.#pairId = id.startsWith("pair:") ? Number(id.slice(5)) : 0;
    this.server = null;
    this.hibernate = false;
    this.hasOnRequest = false;
    this.hasOnAlarm = false;
  }
  onStart() {}
  getConnectionTags() { return []; }
  onMessage(data) { this.#pair?._deliver(data); }
  onClose(conn, code, reason, clean) { this.#pair?._closed(code, reason, clean); }
  onError() {}
  onAlarm() {}
  onRequest() { return new Response("Not found", { status: 404 }); }
  // After the 101: what the pair's server end did so far reaches the client.
  onOpen(conn, native) {
    if (this.#pairId) this.#pair = bridgePair(this.#pairId, native, conn._handle);
  }
  onConnect(conn, ctx) {
    if (this.#pairId) return;
    conn.request = ctx.request;
    const def = this.#def;
    if (!def || typeof def.onSocket !== "function") return;
    Promise.resolve()
      .then(() => def.onSocket(conn, this.#rt.lobby(), { waitUntil() {}, passThroughOnException() {} }))
      .catch((e) => console.error(`onSocket failed: ${errorText(e)}`));
  }
}

function makeAdapter(name, def, room, rt, id) {
  if (name === "") return new SocketAdapter(def, rt, id);
  if (isClassServer(def)) return new ClassAdapter(def, room);
  checkModuleServer(name, def);
  return new ModuleAdapter(def, room);
}

// Hibernating sockets carry their tags in workerd, which limits them; PartyKit's words.
function validateTags(tags) {
  if (tags.length > 10) {
    throw new Error("A connection can only have 10 tags, including the default id tag.");
  }
  for (const tag of tags) {
    if (typeof tag !== "string") throw new Error(`A connection tag must be a string. Received: ${tag}`);
    if (tag === "") throw new Error("A connection tag must not be an empty string.");
    if (tag.length > 256) throw new Error("A connection tag must not exceed 256 characters");
  }
}

// A socket's headers come as one string, "name\0value\0name\0value" (Runtime::headerBlock), or
// as [name, value] pairs should a header ever hold a NUL (the HTTP parser refuses one).
function headerPairs(block) {
  if (typeof block !== "string") return block;
  const pairs = [];
  const parts = block.split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  return pairs;
}

// ---- Connection ----------------------------------------------------------------------------

class Connection extends EventTarget {
  #native;
  #handle;
  #state = null;
  #attachment = null;
  #hibernating;
  // null while the tags are only the id, as they mostly are: no array per socket, which every
  // live socket would keep and every scavenge would copy (issue 14, W2).
  #tags = null;
  constructor(native, handle, id, uri, hibernating = false) {
    super();
    this.#native = native;
    this.#handle = handle;
    this.#hibernating = hibernating;
    this.id = id;
    this.uri = uri;
    this.readyState = OPEN;
  }
  // The id first, then getConnectionTags' own (partyserver's Connection.tags; PartyKit has none).
  get tags() {
    return this.#tags ?? [this.id];
  }
  set tags(tags) {
    this.#tags = tags.length === 1 && tags[0] === this.id ? null : tags;
  }
  _hasTag(tag) {
    return this.#tags === null ? tag === this.id : this.#tags.includes(tag);
  }
  get _handle() {
    return this.#handle;
  }
  get socket() {
    return this;
  }
  get state() {
    return this.#state;
  }
  setState(next) {
    const value = typeof next === "function" ? next(this.#state) : next;
    if (this.#hibernating) this.#checkAttachment(value);
    this.#state = value;
    return this.#state;
  }
  // A hibernating socket keeps its state in workerd's attachment, which holds 2048 bytes with
  // the id and uri; partyd keeps the same limit so that code that runs here runs there.
  #checkAttachment(value) {
    const size = this.#native.serialize({ __pk: { id: this.id, uri: this.uri }, __user: value })
      .byteLength;
    if (size > 2048) {
      throw new Error("A WebSocket 'attachment' cannot be larger than 2048 bytes." +
                      `'attachment' was ${size} bytes.`);
    }
  }
  serializeAttachment(value) {
    if (this.#hibernating) {
      this.setState(value === undefined ? null : structuredClone(value));
      return;
    }
    this.#attachment = value === undefined ? null : structuredClone(value);
  }
  deserializeAttachment() {
    if (this.#hibernating) return this.#state === null ? null : structuredClone(this.#state);
    return this.#attachment === null ? null : structuredClone(this.#attachment);
  }
  // For hibernation: what survives while the room's object is gone, and its restoration.
  // The tags are left out when they are only the id, as they mostly are: every byte here is
  // kept per hibernated socket.
  _stash() {
    return [this.id, this.uri, this.#tags, this.#state, this.#attachment];
  }
  // For the inspector: what _stash() keeps, tags included; a state that structured clone refuses
  // (a function, a class with private fields) is shown by the error it gives.
  _peek() {
    let state = this.#state;
    try {
      this.#native.serialize(state);
    } catch (e) {
      state = `<not serializable: ${errorMessage(e)}>`;
    }
    return [this.id, this.uri, [...this.tags], state, this.#attachment];
  }
  _restore([id, , tags, state, attachment]) {
    this.#tags = tags ?? null;
    this.#state = state;
    this.#attachment = attachment;
  }
  send(message) {
    if (this.readyState !== OPEN) {
      throw new TypeError("Can't call WebSocket send() after close().");
    }
    this.#native.send(this.#handle, typeof message === "string" || message instanceof ArrayBuffer ||
                      ArrayBuffer.isView(message) ? message : String(message));
  }
  close(code, reason) {
    if (code !== undefined && (code !== 1000 && (code < 3000 || code > 4999))) {
      throw new TypeError(`Invalid WebSocket close code: ${code}.`);
    }
    if (this.readyState === CLOSED) return;
    this.readyState = 2;
    this.#native.close(this.#handle, code ?? 1000, reason === undefined ? "" : String(reason));
  }
  accept() {}
}
Connection.CONNECTING = 0;
Connection.OPEN = 1;
Connection.CLOSING = 2;
Connection.CLOSED = 3;

// ---- Room: what a server sees as `room` (Party.Room) -----------------------------------------

const ANALYTICS = Object.freeze({ writeDataPoint() {} });
const NO_CONNECTIONS = new Map();  // shared by rooms that never had a socket; never written

// `room.context`: the lobby's assets, and the parties (which onAlarm may not reach).
class RoomContext {
  #rt;
  constructor(rt) {
    this.#rt = rt;
    this.assets = rt.shared.assets;
  }
  get parties() {
    if (this.#rt.inAlarm > 0) throw new Error(alarmLimitation("Party.context.parties"));
    return this.#rt.shared.parties;
  }
}

class Room {
  #rt;
  #context = null;
  #storage = null;
  #internalID = null;
  #warnedConnections = false;
  constructor(rt, partyName, env) {
    this.#rt = rt;
    this.name = partyName;
    this.env = env;
    this.analytics = ANALYTICS;
  }
  // Made on first use: most rooms never touch it, and each object kept per room is copied by
  // every scavenge while the room is young (issue 14, W2).
  get storage() {
    return (this.#storage ??= new Storage(this.#rt.native, this.#rt.handle));
  }
  get id() {
    if (this.#rt.inAlarm > 0) throw new Error(alarmLimitation("Party.id"));
    return this.#rt.id;
  }
  // A hash of the party and the room id, as a Durable Object id is; made on first use.
  get internalID() {
    return (this.#internalID ??= this.#rt.native.internalId(this.name, this.#rt.id));
  }
  get context() {
    return (this.#context ??= new RoomContext(this.#rt));
  }
  get parties() {
    return this.context.parties;
  }
  blockConcurrencyWhile(cb) {
    return this.#rt.block(cb, "blockConcurrencyWhile");
  }
  broadcast(message, without) {
    const rt = this.#rt;
    let exclude = null;
    if (without && without.length) {
      const skip = new Set(without);
      exclude = [];
      for (const c of rt.byHandle.values()) if (skip.has(c.id)) exclude.push(c._handle);
    }
    rt.native.broadcast(rt.handle, typeof message === "string" || message instanceof ArrayBuffer ||
                        ArrayBuffer.isView(message) ? message : String(message), exclude);
  }
  getConnection(id) {
    const rt = this.#rt;
    if (!rt.adapter.hibernate) return rt.connections.get(id);
    // Hibernating sockets are not a map by id: PartyKit refuses to pick one of several.
    let found;
    for (const c of rt.byHandle.values()) {
      if (c.id !== id || c.readyState !== OPEN) continue;
      if (found) {
        throw new Error(`More than one connection found for id ${id}. Did you mean to use ` +
                        "getConnections(tag) instead?");
      }
      found = c;
    }
    return found;
  }
  *getConnections(tag) {
    const rt = this.#rt;
    const all = rt.adapter.hibernate ? rt.byHandle.values() : rt.connections.values();
    for (const c of all) {
      if (c.readyState !== OPEN) continue;
      if (tag === undefined || c._hasTag(tag)) yield c;
    }
  }
  get connections() {
    if (!this.#warnedConnections) {
      this.#warnedConnections = true;
      console.warn("room.connections is deprecated: use room.getConnections() instead");
    }
    return this.#rt.connections;
  }
}

// ---- RoomRuntime: one live room --------------------------------------------------------------

class RoomRuntime {
  // `shared` is the shard's module state: env, parties and assets, as in a Worker isolate.
  constructor(native, shared, handle, partyName, id, def, restore) {
    this.native = native;
    this.shared = shared;
    this.handle = handle;
    // Sockets by id (the latest with that id) and by native handle; a room that only answers
    // HTTP never allocates them.
    this.connections = NO_CONNECTIONS;
    this.byHandle = NO_CONNECTIONS;
    this.queue = null;  // events held while the room is blocked (an array while there are any)
    this.blocked = 0;
    this.awaiting = 0;  // handlers that nothing waits for, still awaiting (see guard)
    this.inAlarm = 0;
    this.id = id;
    this.partyName = partyName;
    this.def = def;
    this.room = new Room(this, partyName, shared.env);
    // The server object; null while its constructor throws (PartyKit then tries again on the
    // next event, answering each with the error, 500 or its `.code`).
    this.adapter = null;
    this.failure = null;      // what the last try threw, for the event that made the try
    this.startFailure = null; // what onStart threw, for the event that woke the room
    this.build(restore);
  }

  build(restore) {
    try {
      this.adapter = makeAdapter(this.partyName, this.def, this.room, this, this.id);
    } catch (e) {
      console.error(`the constructor of party "${this.partyName}" failed: ${errorText(e)}`);
      this.failure = e;
      return false;
    }
    if (restore) {
      // Waking from hibernation: the sockets never closed; only their objects come back.
      for (const [handle, meta] of restore) {
        const conn = new Connection(this.native, handle, meta[0], meta[1], this.adapter.hibernate);
        conn._restore(meta);
        this.addConnection(handle, conn);
      }
    }
    this.blocked++;
    let started;
    try {
      started = this.adapter.onStart();
    } catch (e) {
      started = Promise.reject(e);
    }
    if (isThenable(started)) {
      this.blocked--;
      this.block(() => started, "onStart");
    } else {
      // A synchronous onStart (or none: most rooms) has settled. Later events still wait for
      // the microtasks it queued, as behind block()'s promise, without that promise chain: a
      // new room made three promises and four closures for it (issue 14, W2).
      SETTLED.then(() => this.#started());
    }
    return true;
  }

  #started() {
    this.blocked--;
    try {
      this.drain();
    } catch (e) {
      console.error(`onStart failed: ${errorText(e)}`);
      this.startFailure = e;
    }
  }

  // null when the room has its server object (built now if need be), else what stopped it.
  ready() {
    if (this.adapter) return null;
    if (!this.failure && this.build()) return null;
    const e = this.failure;
    this.failure = null;
    return e;
  }

  takeStartFailure() {
    const e = this.startFailure;
    this.startFailure = null;
    return e;
  }

  lobby() {
    const { env, parties, assets } = this.shared;
    return {
      env, parties, assets, ai: undefined, vectorize: {}, bindings: { r2: {}, kv: {} },
      analytics: ANALYTICS,
    };
  }

  addConnection(handle, conn) {
    if (this.byHandle === NO_CONNECTIONS) {
      this.byHandle = new Map();
      this.connections = new Map();
    }
    this.byHandle.set(handle, conn);
    this.connections.set(conn.id, conn);
  }

  // Holds every later event until `fn`'s promise settles (onStart, blockConcurrencyWhile).
  block(fn, what) {
    this.blocked++;
    let p;
    try {
      p = Promise.resolve(fn());
    } catch (e) {
      p = Promise.reject(e);
    }
    const done = p.finally(() => {
      this.blocked--;
      this.drain();
    });
    if (what === "onStart") {
      done.catch((e) => {
        console.error(`onStart failed: ${errorText(e)}`);
        this.startFailure = e;
      });
    }
    return done;
  }

  enqueue(run) {
    if (this.blocked > 0 || this.queue !== null) (this.queue ??= []).push(run);
    else run();
  }

  drain() {
    while (this.blocked === 0 && this.queue !== null) {
      const run = this.queue.shift();
      if (this.queue.length === 0) this.queue = null;
      run();
    }
  }

  // Runs a handler that nothing waits for; logs what it throws or rejects with. A handler that
  // returns no promise (most onMessage) costs no promise here: this is the per-message path.
  guard(what, fn) {
    let result;
    try {
      result = fn();
    } catch (e) {
      console.error(`${what} failed: ${errorText(e)}`);
      return;
    }
    if (isThenable(result)) {
      // Counted, so that a code update moves the room only once they have settled.
      this.awaiting++;
      Promise.resolve(result).then(() => {
        this.awaiting--;
      }, (e) => {
        this.awaiting--;
        console.error(`${what} failed: ${errorText(e)}`);
      });
    }
  }

  // Nothing running, queued or awaited: the room can move to new code (a code update).
  idle() {
    return this.blocked === 0 && this.queue === null && this.awaiting === 0;
  }

  // A new socket: its tags, onConnect, then the 101. Most servers answer both in this turn; they
  // then cost no promise and no microtask here, and the 101 goes out at once (issue 14, W2: an
  // async connect made four promises per socket, and TurboFan spent 20 ms compiling it). A
  // handler that returns a promise is awaited, and the 101 waits for it, as before.
  connect(handle, id, url, headers, geo) {
    const conn = new Connection(this.native, handle, id, url, this.adapter.hibernate);
    // The Request is made when a handler first reads ctx.request: most onConnect never do, and
    // its headers, URL and cf cost each new connection (issue 14, W2). An own, enumerable
    // property as before, so that spreading or destructuring ctx still finds it.
    let request = null;
    const ctx = {
      get request() {
        return (request ??= makeRequest("GET", url, headerPairs(headers), null, requestCf(geo)));
      },
      set request(value) {
        request = value;
      },
    };
    let tags;
    try {
      tags = this.adapter.getConnectionTags(conn, ctx);
    } catch (e) {
      return this.#connectFailed(handle, e);
    }
    if (isThenable(tags)) {
      return Promise.resolve(tags).then((t) => this.#connectTagged(handle, conn, ctx, t),
                                        (e) => this.#connectFailed(handle, e));
    }
    return this.#connectTagged(handle, conn, ctx, tags);
  }

  #connectTagged(handle, conn, ctx, tags) {
    let connected;
    try {
      tags ??= [];
      // No tags of its own (most connections): the id alone, which Connection keeps as null.
      if (tags.length !== 0) conn.tags = [...new Set([conn.id, ...tags])];
      if (this.adapter.hibernate) validateTags(conn.tags);
      this.addConnection(handle, conn);
      connected = this.adapter.onConnect(conn, ctx);
    } catch (e) {
      return this.#connectFailed(handle, e);
    }
    if (isThenable(connected)) {
      return Promise.resolve(connected).then(() => this.#open(handle, conn),
                                             (e) => this.#connectFailed(handle, e));
    }
    return this.#open(handle, conn);
  }

  #open(handle, conn) {
    try {
      this.native.accept(handle, 0, "");
      this.adapter.onOpen?.(conn, this.native);
    } catch (e) {
      this.#connectFailed(handle, e);
    }
  }

  #connectFailed(handle, e) {
    console.error(`onConnect failed: ${errorText(e)}`);
    this.native.accept(handle, 1011, errorMessage(e));
  }

  message(handle, data) {
    const conn = this.byHandle.get(handle);
    if (!conn) return;
    this.guard("onMessage", () => this.adapter.onMessage(data, conn));
    if (hasListeners(conn, "message")) conn.dispatchEvent(new MessageEvent("message", { data }));
  }

  closed(handle, code, reason, clean) {
    const conn = this.byHandle.get(handle);
    if (!conn) return;
    this.byHandle.delete(handle);
    if (this.connections.get(conn.id) === conn) this.connections.delete(conn.id);
    conn.readyState = CLOSED;
    if (hasListeners(conn, "close")) {
      conn.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: clean }));
    }
    this.guard("onClose", () => this.adapter.onClose(conn, code, reason, clean));
  }

  // An HTTP request. A handler that answers synchronously with a byte body (most do) is answered
  // in this turn, without the promises an async path costs per request (W6).
  request(handle, method, url, headers, body, geo) {
    let res;
    try {
      if (!this.adapter.hasOnRequest) {
        throw Object.assign(new Error("No onRequest handler"), { code: 500 });
      }
      res = this.adapter.onRequest(makeRequest(method, url, headers, body, requestCf(geo)));
    } catch (e) {
      return this.#requestFailed(handle, e);
    }
    if (isThenable(res)) {
      return Promise.resolve(res).then((r) => this.#respond(handle, r),
                                       (e) => this.#requestFailed(handle, e));
    }
    return this.#respond(handle, res);
  }

  #respond(handle, res) {
    try {
      if (!(res instanceof Response)) {
        throw new TypeError("onRequest must return a Response (got " +
                            (res === null ? "null" : typeof res) + ")");
      }
      const parts = responsePartsSync(res);  // null: a stream body, read below
      if (parts === null) {
        return responseParts(res)
          .then((p) => this.native.respond(handle, p.status, p.headers, p.body ?? ""))
          .catch((e) => this.#requestFailed(handle, e));
      }
      this.native.respond(handle, parts.status, parts.headers, parts.body ?? "");
    } catch (e) {
      this.#requestFailed(handle, e);
    }
  }

  #requestFailed(handle, e) {
    if (!(e instanceof Error && e.message === "No onRequest handler")) {
      console.error(`onRequest failed: ${errorText(e)}`);
    }
    this.failRequest(handle, e);
  }

  // PartyKit's answer to a request (or an upgrade) whose room could not start.
  failRequest(handle, e) {
    this.native.respond(handle, failureStatus(e), [["content-type", "text/plain;charset=UTF-8"]],
                        errorMessage(e));
  }

  failUpgrade(handle, e) {
    this.native.refuse(handle, failureStatus(e), errorMessage(e));
  }

  async alarm(retryCount) {
    this.inAlarm++;
    try {
      await this.adapter.onAlarm({ retryCount, isRetry: retryCount > 0 });
      this.native.alarmDone(this.handle, true);
    } catch (e) {
      console.error(`onAlarm failed: ${errorText(e)}`);
      this.native.alarmDone(this.handle, false);
    } finally {
      this.inAlarm--;
    }
  }
}

// ---- entry points for C++ -------------------------------------------------------------------

// How hard hibernate() tries (party::HibernateMode): the sweep's, a code update's, and a code
// update past its delay.
const HIBERNATE_QUIET = 0;
const HIBERNATE_IDLE = 1;

export function createEntry(native) {
  const rooms = new Map();
  // Shared by every room of the shard, as module state is in a Worker isolate.
  const state = { env: {}, parties: {}, host: "", assets: undefined };
  let stubs;
  // Party stubs of earlier builds with fetches still in flight: their answers still find them.
  const oldStubs = [];
  // The parties of the build that serves, and of one loaded but not yet switched to (a code
  // update: see prepare and commit). A live room keeps the class it was built from, so rooms of
  // several builds may be alive at once.
  let defs = {};
  let candidate = null;

  function partyDef(name) {
    return defs[name];
  }
  // An answer for a stub of an earlier build; a build's stubs go once none of theirs is pending.
  function settleOld(settle) {
    const i = oldStubs.findIndex(settle);
    if (i >= 0 && oldStubs[i].pending() === 0) oldStubs.splice(i, 1);
  }
  function withDefs(next, fn) {
    const saved = defs;
    defs = next;
    try {
      return fn();
    } finally {
      defs = saved;
    }
  }
  function noteHost(url) {
    if (!state.host) state.host = new URL(url).host;
  }
  const edge = createEdge(native, partyDef, state);

  return {
    // After a build's module ran: takes its parties as the candidate and checks them; returns
    // what is wrong ("" when nothing). Nothing that serves changes until commit().
    prepare(envJson, partyNames) {
      const next = globalThis.__partyd_parties ?? {};
      delete globalThis.__partyd_parties;
      candidate = null;
      let env;
      try {
        env = JSON.parse(envJson);
      } catch (e) {
        return `the project's vars are not JSON: ${errorMessage(e)}`;
      }
      const errors = [];
      for (const name of partyNames) {
        const def = next[name];
        try {
          if (!isClassServer(def)) checkModuleServer(name, def);
        } catch (e) {
          errors.push(e.message);
        }
      }
      if (errors.length === 0) candidate = { defs: next, env, partyNames };
      return errors.join("\n");
    },
    abandon() {
      candidate = null;
      delete globalThis.__partyd_parties;
    },
    // Switches to the candidate: rooms built from now on, and the worker hooks, run it.
    commit() {
      if (!candidate) return;
      const { defs: next, env, partyNames } = candidate;
      candidate = null;
      defs = next;
      state.env = env;
      if (stubs && stubs.pending() > 0) oldStubs.push(stubs);
      stubs = createParties(native, partyNames, state);
      state.parties = stubs.parties;
      state.assets ??= {
        async fetch(path) {
          if (typeof path !== "string" || !path.startsWith("/")) {
            throw new Error("Path must start with /");
          }
          const hit = native.assetFetch(path);
          if (!hit) return null;
          return new Response(hit[2], { status: hit[0], headers: hit[1] });
        },
      };
    },
    // The worker hooks of the candidate (or of the build that serves, when there is none).
    hookInfo(partyNames) {
      return withDefs(candidate ? candidate.defs : defs, () => edge.hookInfo(partyNames));
    },
    edge: edge.edge,
    fetchDone(handle, status, headers, body) {
      if (stubs.fetchDone(handle, status, headers, body)) return;
      settleOld((s) => s.fetchDone(handle, status, headers, body));
    },
    fetchFailed(handle, message) {
      if (stubs.fetchFailed(handle, message)) return;
      settleOld((s) => s.fetchFailed(handle, message));
    },
    createRoom(handle, partyName, id, restore) {
      const def = partyDef(partyName === "" ? "main" : partyName);
      const rt = new RoomRuntime(native, state, handle, partyName, id, def, restore);
      rooms.set(handle, rt);
      native.markHibernating(rt.adapter?.hibernate ?? false);
    },
    // Drops a room's object. Its sockets stay open in C++ with what they carry when its party
    // hibernates. `mode` (HIBERNATE_*): the sweep's hibernation and a code update wait until
    // nothing is queued or awaited (a handler awaiting a timer or a fetch keeps its object, as a
    // Durable Object with an event in progress stays in memory); past a code update's delay, it
    // waits for nothing.
    hibernate(handle, mode = HIBERNATE_QUIET) {
      const rt = rooms.get(handle);
      if (!rt) return;
      if (mode === HIBERNATE_QUIET && (!rt.adapter || !rt.idle())) return;
      if (mode === HIBERNATE_IDLE && !rt.idle()) return;
      if (rt.adapter?.hibernate) {
        for (const conn of rt.byHandle.values()) native.stashConn(conn._handle, conn._stash());
      }
      rooms.delete(handle);
      native.roomHibernated(handle);
    },
    destroyRoom(handle) {
      rooms.delete(handle);
    },
    // For the inspector: [handle, [id, uri, tags, state, attachment], ...] of a live room's
    // connections; no handler of the room runs.
    peekConnections(handle) {
      const rt = rooms.get(handle);
      const out = [];
      if (!rt) return out;
      for (const conn of rt.byHandle.values()) out.push(conn._handle, conn._peek());
      return out;
    },
    connect(room, handle, id, url, headers, geo) {
      noteHost(url);
      const rt = rooms.get(room);
      if (!rt) return;
      const failed = rt.ready();
      if (failed) return rt.failUpgrade(handle, failed);
      rt.enqueue(() => {
        const e = rt.takeStartFailure();
        if (e) return rt.failUpgrade(handle, e);
        return rt.connect(handle, id, url, headers, geo);
      });
    },
    message(room, handle, data) {
      const rt = rooms.get(room);
      if (!rt || rt.ready()) return;
      rt.enqueue(() => rt.message(handle, data));
    },
    close(room, handle, code, reason, clean) {
      const rt = rooms.get(room);
      if (!rt || rt.ready()) return;
      rt.enqueue(() => rt.closed(handle, code, reason, clean));
    },
    request(room, handle, method, url, headers, body, geo) {
      noteHost(url);
      const rt = rooms.get(room);
      if (!rt) return;
      const failed = rt.ready();
      if (failed) return rt.failRequest(handle, failed);
      rt.enqueue(() => {
        const e = rt.takeStartFailure();
        if (e) return rt.failRequest(handle, e);
        return rt.request(handle, method, url, headers, body, geo);
      });
    },
    alarm(room, retryCount) {
      const rt = rooms.get(room);
      if (!rt) return;
      if (rt.ready()) return native.alarmDone(room, false);
      rt.enqueue(() => rt.alarm(retryCount));
    },
  };
}
