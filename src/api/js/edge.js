// The edge: what PartyKit runs in its stateless Worker before a request reaches a room. The
// worker hooks (onBeforeConnect, onBeforeRequest, onFetch, onCron) and the lobby they get, and
// the stubs of room.context.parties / lobby.parties that reach other rooms in-process.
import { requestCf } from "./cf.js";
import { makeRequest, responseParts } from "./web/index.js";
import { handOverPairClient } from "./websocket_pair.js";

const ACTION_CONTINUE = 0;
const ACTION_RESPOND = 1;
const ACTION_REWRITE = 2;
const ACTION_UNHANDLED = 3;
const ACTION_ROUTE = 4;  // a party stub's fetch of the WebSocket upgrade: into that room
const ACTION_PAIR = 5;   // the client end of a WebSocketPair: bridged to its server end

// What a party stub's fetch() of a WebSocket upgrade returns as the Response's webSocket: the
// room the upgrade goes to, with the request it arrives as. Only a worker hook can hand it on
// (returning the Response): the client's socket is at the edge, and partyd routes it there.
export class RoomUpgrade {
  constructor(party, room, url, method, headers) {
    this.party = party;
    this.room = room;
    this.url = url;
    this.method = method;
    this.headers = headers;
  }
  accept() {
    throw new TypeError("partyd: a party stub's WebSocket can only be returned from a worker " +
                        "hook (onBeforeConnect, onFetch); use stub.socket() to talk to a room");
  }
}

function errorText(e) {
  return e instanceof Error ? e.stack || `${e.name}: ${e.message}` : String(e);
}

function hook(def, name) {
  if (!def) return undefined;
  const fn = def[name];
  return typeof fn === "function" ? fn.bind(def) : undefined;
}

const executionContext = {
  waitUntil(p) {
    Promise.resolve(p).catch((e) => console.error(`waitUntil promise rejected: ${errorText(e)}`));
  },
  passThroughOnException() {},
};

// ---- party stubs ----------------------------------------------------------------------------

export function createParties(native, partyNames, state) {
  const pending = new Map();
  const parties = {};
  for (const name of partyNames) {
    parties[name] = {
      get(id) {
        return makeStub(name, String(id));
      },
    };
  }

  function makeStub(name, id) {
    const base = () => `http://${state.host}/parties/${name}/${id}`;
    return {
      async fetch(pathOrInit, maybeInit) {
        let path = "";
        let init = maybeInit;
        if (typeof pathOrInit === "string") path = pathOrInit;
        else if (pathOrInit instanceof Request) init = pathOrInit;
        else init = pathOrInit;
        if (path && !path.startsWith("/")) throw new Error("Path must start with /");
        const url = base() + path;
        const req = init instanceof Request ? new Request(url, init) : new Request(url, init);
        // A WebSocket upgrade (a router party's onBeforeConnect passing its request on): the
        // target room takes the client's socket, as on PartyKit, when the hook returns this.
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          return new Response(null, {
            status: 101,
            webSocket: new RoomUpgrade(name, id, url, req.method, [...req.headers]),
          });
        }
        const body = req.body === null ? null : new Uint8Array(await req.arrayBuffer());
        return new Promise((resolve, reject) => {
          const handle = native.partyFetch(name, id, req.method, url, [...req.headers], body);
          pending.set(handle, { resolve, reject });
        });
      },
      // A WebSocket to the other room. partyd opens it through its own listener (loopback),
      // so the other room sees an ordinary connection with a fresh id, as on PartyKit.
      async socket(pathOrInit, maybeInit) {
        const path = typeof pathOrInit === "string" ? pathOrInit : "";
        const init = typeof pathOrInit === "string" ? maybeInit : pathOrInit;
        if (path && !path.startsWith("/")) throw new Error("Path must start with /");
        // Marked as partyd's own, so that the target's onBeforeConnect does not run (PartyKit's
        // stubs reach the room directly, past the worker).
        const headers = new Headers(init?.headers);
        headers.set("x-partyd-internal", native.internalToken);
        const ws = new WebSocket(base().replace(/^http/, "ws") + path, { headers });
        await new Promise((resolve, reject) => {
          ws.addEventListener("open", resolve, { once: true });
          ws.addEventListener("error", () => reject(new Error("Expected a websocket response")),
                              { once: true });
        });
        return ws;
      },
      connect() {
        return new WebSocket(base().replace(/^http/, "ws"));
      },
    };
  }

  return {
    parties,
    // Fetches in flight; a code update keeps these stubs until they have settled.
    pending() {
      return pending.size;
    },
    // Each returns whether the fetch was one of these stubs'.
    fetchDone(handle, status, headers, body) {
      const p = pending.get(handle);
      if (!p) return false;
      pending.delete(handle);
      const nullBody = status === 101 || status === 204 || status === 205 || status === 304;
      p.resolve(new Response(nullBody ? null : body, { status, headers }));
      return true;
    },
    fetchFailed(handle, message) {
      const p = pending.get(handle);
      if (!p) return false;
      pending.delete(handle);
      p.reject(new Error(message));
      return true;
    },
  };
}

// ---- worker hooks ---------------------------------------------------------------------------

export function createEdge(native, partyDef, state) {
  function lobby(id) {
    const l = { env: state.env, parties: state.parties, assets: state.assets, ai: undefined,
                vectorize: {}, bindings: { r2: {}, kv: {} },
                analytics: { writeDataPoint() {} } };
    if (id !== undefined) l.id = id;
    return l;
  }

  function finish(handle, result) {
    if (result instanceof Response && result.status === 101 && result.webSocket) {
      const ws = result.webSocket;
      if (ws instanceof RoomUpgrade) {
        return native.edgeDone(handle, ACTION_ROUTE, ws.url, ws.headers, null, ws.method,
                               ws.party, ws.room);
      }
      const pair = handOverPairClient(ws);
      if (pair) return native.edgeDone(handle, ACTION_PAIR, pair, null, null);
      return respondText(handle, 500, "partyd: a 101 Response's webSocket must be the client " +
                         "end of a WebSocketPair or a party stub's upgrade");
    }
    if (result instanceof Response) {
      return responseParts(result).then((parts) =>
          native.edgeDone(handle, ACTION_RESPOND, parts.status, parts.headers, parts.body ?? ""));
    }
    if (result instanceof Request) {
      const headers = [...result.headers];
      if (result.body === null) {
        native.edgeDone(handle, ACTION_REWRITE, result.url, headers, null, result.method);
        return;
      }
      return result.arrayBuffer().then((b) =>
          native.edgeDone(handle, ACTION_REWRITE, result.url, headers, new Uint8Array(b),
                          result.method));
    }
    native.edgeDone(handle, ACTION_CONTINUE, 0, null, null);
  }

  function respondText(handle, status, text) {
    native.edgeDone(handle, ACTION_RESPOND, status, [["content-type", "text/plain;charset=UTF-8"]],
                    text);
  }

  return {
    hookInfo(partyNames) {
      const info = { parties: {} };
      for (const name of partyNames) {
        const def = partyDef(name);
        info.parties[name] = {
          beforeConnect: !!hook(def, "onBeforeConnect"),
          beforeRequest: !!hook(def, "onBeforeRequest"),
        };
      }
      const main = partyDef("main");
      info.fetch = !!(hook(main, "onFetch") || hook(main, "unstable_onFetch"));
      info.socket = !!hook(main, "onSocket");
      info.cron = !!hook(main, "onCron");
      return JSON.stringify(info);
    },

    // kind: "connect" | "request" (a party URL), "fetch" (anything else), "cron".
    async edge(handle, kind, partyName, roomId, method, url, headers, body, extra, geo) {
      if (!state.host) state.host = new URL(url).host;
      const def = partyDef(kind === "connect" || kind === "request" ? partyName : "main");
      try {
        if (kind === "connect" || kind === "request") {
          const fn = hook(def, kind === "connect" ? "onBeforeConnect" : "onBeforeRequest");
          if (!fn) return native.edgeDone(handle, ACTION_CONTINUE, 0, null, null);
          const original = makeRequest(method, url, headers, body, requestCf(geo));
          const result = await fn(new Request(original.url, original), lobby(roomId),
                                  executionContext);
          if (!result && kind === "request") {
            // PartyKit then builds a Request from `undefined` and fails; so do we, in its words.
            return respondText(handle, 500, `Invalid URL: ${String(result)}`);
          }
          return await finish(handle, result || undefined);
        }
        if (kind === "fetch") {
          const fn = hook(def, "onFetch") || hook(def, "unstable_onFetch");
          const req = makeRequest(method, url, headers, body, requestCf(geo));
          const result = fn ? await fn(req, lobby(), executionContext) : null;
          if (result instanceof Response) return await finish(handle, result);
          return native.edgeDone(handle, ACTION_UNHANDLED, 0, null, null);
        }
        if (kind === "cron") {
          const fn = hook(def, "onCron");
          const name = roomId;
          const cron = extra;
          if (!fn) return native.edgeDone(handle, ACTION_UNHANDLED, 0, null, null);
          await fn({ name, cron, scheduledTime: Date.now(), noRetry() {} }, lobby(),
                   executionContext);
          return respondText(handle, 200, `ran cron ${name}: ${cron}`);
        }
      } catch (e) {
        if (kind === "connect" || kind === "request") {
          // PartyKit answers a throwing onBefore* hook with 401 and the message.
          return respondText(handle, 401, e instanceof Error ? e.message : String(e));
        }
        console.error(`${kind === "cron" ? "onCron" : "onFetch"} failed: ${errorText(e)}`);
        return respondText(handle, 500, e instanceof Error ? e.message : String(e));
      }
    },
  };
}
