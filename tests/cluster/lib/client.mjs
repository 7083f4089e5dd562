// Clients of the cluster tests: one HTTP request with a deadline (optionally from a given local
// address, for the partition test), and the counter workload that records a History.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import WebSocket from "ws";
import { assertLinearizable } from "./history.mjs";
import { sleep } from "./proc.mjs";

/**
 * One HTTP request to `host` ("addr:port"). Resolves { status, text, json() } or rejects with an
 * Error whose `code` is the socket error (ECONNREFUSED: nothing was sent) or "ETIMEDOUT".
 */
export function request(host, path, { method = "GET", timeout = 5000, localAddress, headers = {}, body } = {}) {
  const [hostname, port] = [host.slice(0, host.lastIndexOf(":")), Number(host.slice(host.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path, method, localAddress, agent: false, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode,
          text,
          json() {
            return JSON.parse(text);
          },
        });
      });
      res.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      const e = new Error(`${method} http://${host}${path}: no answer in ${timeout} ms`);
      e.code = "ETIMEDOUT";
      req.destroy(e);
    }, timeout);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

/**
 * One counter incr through `host`, recorded in `history`: ok with the value on a 200 with a JSON
 * value; fail when the connection was refused (nothing was sent); info otherwise (timeout, reset,
 * an error status: a forwarding node may answer 5xx after the owner committed). Returns the op.
 */
export async function incrOp(history, proc, host, room, { mark, delay, timeout = 5000, localAddress } = {}) {
  const params = new URLSearchParams();
  if (mark) params.set("mark", mark);
  if (delay) params.set("delay", String(delay));
  const q = params.size ? `?${params}` : "";
  const op = history.invoke(proc, "incr", room, { node: host, mark });
  try {
    const res = await request(host, `/parties/main/${encodeURIComponent(room)}${q}`, { method: "POST", timeout, localAddress });
    op.status = res.status;
    let v = null;
    if (res.status === 200) {
      try {
        v = res.json();
      } catch {}
    }
    if (v && Number.isInteger(v.value)) {
      op.instance = v.instance;
      history.ok(op, v.value);
    } else history.info(op, `HTTP ${res.status}: ${res.text.slice(0, 200)}`);
  } catch (e) {
    op.code = e.code;
    if (e.code === "ECONNREFUSED") history.fail(op, e);
    else history.info(op, e);
  }
  return op;
}

/**
 * Runs the counter workload: `clients` loops, each doing an incr on a random room through a random
 * host of `hosts()` every `interval` ms (tens of ops/s in all). Returns { stop() } (resolves when
 * every loop has finished its last op).
 */
export function startWorkload(history, { hosts, rooms, clients = 3, interval = 100, timeout = 5000, localAddress } = {}) {
  let stopped = false;
  const pick = (a) => a[Math.floor(Math.random() * a.length)];
  const loops = [];
  for (let c = 0; c < clients; c++) {
    loops.push((async () => {
      while (!stopped) {
        const hs = typeof hosts === "function" ? hosts() : hosts;
        const started = Date.now();
        if (hs.length) await incrOp(history, c, pick(hs), pick(rooms), { timeout, localAddress });
        await sleep(Math.max(5, interval - (Date.now() - started)));
      }
    })());
  }
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/**
 * Reads a room's counter through every host of `hosts` until all of them answer 200 with the
 * same value (the room is one instance again) or `timeout` passes. Returns { value, instance }.
 */
export async function finalRead(hosts, room, { timeout = 20_000, localAddress } = {}) {
  const end = Date.now() + timeout;
  let last = [];
  while (Date.now() < end) {
    last = await Promise.all(hosts.map((h) =>
      request(h, `/parties/main/${encodeURIComponent(room)}`, { timeout: 3000, localAddress })
        .then((r) => (r.status === 200 ? r.json() : { error: `HTTP ${r.status}: ${r.text.slice(0, 200)}` }))
        .catch((e) => ({ error: e.message }))));
    const values = new Set(last.map((x) => x.value));
    const instances = new Set(last.map((x) => x.instance));
    if (last.every((x) => Number.isInteger(x.value)) && values.size === 1 && instances.size === 1) {
      return { value: last[0].value, instance: last[0].instance };
    }
    await sleep(200);
  }
  throw new Error(`room ${room}: the nodes did not agree on one value within ${timeout} ms: ${JSON.stringify(last)}`);
}

/** Waits until an incr of `room` through `host` is acknowledged; returns the time (ms since `since`). */
export async function firstOk(history, host, room, { since, timeout = 30_000, localAddress } = {}) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const op = await incrOp(history, "probe", host, room, { timeout: 3000, localAddress });
    if (op.type === "ok") return { op, ms: Date.now() - since };
    await sleep(50);
  }
  throw new Error(`no incr of ${room} through ${host} was acknowledged within ${timeout} ms`);
}

/**
 * After every fault healed: reads each room through every host (they must agree), then checks
 * the history with the counter checker (lib/history.mjs). Throws on a violation (the history is
 * saved to $TMPDIR); returns the checker's result. `log` gets a line per room.
 */
export async function verifyCounters(history, hosts, rooms, { log = () => {}, localAddress, timeout } = {}) {
  const finals = {};
  for (const r of rooms) finals[r] = (await finalRead(hosts, r, { localAddress, timeout })).value;
  const file = path.join(process.env.TMPDIR ?? "/tmp", `partyd-cluster-history-${process.pid}-${Date.now()}.json`);
  const result = assertLinearizable(history, finals, { save: (text) => fs.writeFileSync(file, text) });
  for (const [room, s] of Object.entries(result.stats)) {
    log(`${room}: ${s.ok} ok, ${s.info} indeterminate, ${s.fail} failed incrs; final read ${s.final}`);
  }
  return result;
}

/** The ops of `history` matching `pred`, shown briefly (for assertion messages). */
export function showOps(ops, max = 8) {
  return ops.slice(0, max).map((o) =>
    `#${o.id} ${o.f} ${o.key} via ${o.node} ${o.invoke.toFixed(0)}..${o.complete?.toFixed(0)} ms ${o.type}` +
    `${o.value !== null ? " " + o.value : ""}${o.error ? " (" + o.error.slice(0, 120) + ")" : ""}`).join("\n  ") +
    (ops.length > max ? `\n  … ${ops.length - max} more` : "");
}

/** Ops that ended with an HTTP error status (>= 500) and a message: the "clear errors". */
export function clearErrors(ops) {
  return ops.filter((o) => o.status >= 500 && o.error && !/HTTP \d+: $/.test(o.error));
}

/**
 * A PartySocket (the npm client, unmodified) to a room through `host`, reconnecting quickly;
 * every message is parsed as JSON into `messages`. Returns { socket, messages }; close with
 * socket.close().
 */
export async function partySocket(host, room, options = {}) {
  const { default: PartySocket } = await import("partysocket");
  // protocol: partysocket picks wss for any host but localhost, 127.0.0.1 and private ranges.
  const socket = new PartySocket({ host, room, party: "main", protocol: "ws", WebSocket,
                                   minReconnectionDelay: 200, maxReconnectionDelay: 1000, ...options });
  const messages = [];
  socket.addEventListener("message", (ev) => {
    try {
      messages.push(JSON.parse(String(ev.data)));
    } catch {}
  });
  socket.addEventListener("error", () => {});
  return { socket, messages };
}
