#!/usr/bin/env node
// bench/redeploy.mjs: a code update under load (issue 10, "deploys that keep sockets open").
// N WebSockets on a party with options.hibernate (quiet, so their rooms hibernate, plus some kept
// live by a message stream) and M on a party without it, HTTP requests in a closed loop to both
// (some awaiting inside onRequest across the swap); then a redeploy. For `partyd dev` that is a
// rewrite of the party file (the dev loop rebuilds and swaps it in through Server::reload, the
// path a deploy takes); --redeploy-cmd runs a command instead (e.g. a `partyd deploy` once
// `partyd serve` has one). It reports:
//   - closes by code, per party: the hibernating party's must be 0, the plain party's all 1012;
//   - hibernated_answered_v2: hibernating sockets that answer from the new code with id, tags and
//     state kept (must be N);
//   - plain_reconnected: plain sockets that reconnected after their 1012 (as partysocket does:
//     same _pk, at once) and were greeted by the new code;
//   - http_ok / http_failed (must be 0), and how many were in flight when the swap was asked;
//   - swap_ms: from the redeploy to the first answer from the new code; drain_ms: to the last 1012.
// Both modes also report refused (new TCP connections refused: a connect loop every 5 ms) and
// pause_ms (the longest time without any HTTP answer, over the whole run).
//
// --upgrade: the same load on `partyd serve DIR`, and instead of a redeploy a binary upgrade
// (SIGUSR2: the server starts its binary again with --takeover, hands it the listening sockets,
// drains with 1012 and exits). Every socket, hibernated or not, then gets 1012 and reconnects
// (reconnected counts those greeted again); swap_ms is from SIGUSR2 to the old process's exit.
// One JSON line per round; appended to bench/results/<date>-redeploy.jsonl unless --no-save.
//
//   node bench/redeploy.mjs [--hibernated 2000] [--plain 500] [--rooms 50] [--live-rooms 5]
//        [--http-concurrency 32] [--http-delay-ms 100] [--warmup 3] [--after 5] [--rounds 1]
//        [--hibernate-after 1000] [--partyd-threads N] [--redeploy-cmd CMD] [--upgrade]
//        [--label T] [--no-save]
//
// It needs bench/node_modules (cd bench && npm install: ws) and build/partyd (PARTYD=path).
// Run it on a quiet machine; the lead runs the benchmarks (see bench/README.md).
import { execFileSync, execSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { ROOT, startServer } from "./lib/servers.mjs";

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const HIBERNATED = Number(flag("hibernated", 2000));
const PLAIN = Number(flag("plain", 500));
const ROOMS = Number(flag("rooms", 50));
const LIVE_ROOMS = Number(flag("live-rooms", 5));
const HTTP_CONCURRENCY = Number(flag("http-concurrency", 32));
const HTTP_DELAY_MS = Number(flag("http-delay-ms", 100));
const WARMUP_S = Number(flag("warmup", 3));
const AFTER_S = Number(flag("after", 5));
const ROUNDS = Number(flag("rounds", 1));
const HIBERNATE_AFTER_MS = Number(flag("hibernate-after", 1000));
const THREADS = flag("partyd-threads", null);
const REDEPLOY_CMD = flag("redeploy-cmd", null);
const LABEL = flag("label", "");
const SAVE = !args.includes("--no-save");
const UPGRADE = args.includes("--upgrade");

// ws from bench/node_modules (cd bench && npm install), else the tests' copy.
let WebSocket;
for (const dir of ["bench", "tests"]) {
  try {
    ({ default: WebSocket } = await import(path.join(ROOT, dir, "node_modules/ws/index.js")));
    break;
  } catch {}
}
if (!WebSocket) {
  console.error("the ws package is missing: cd bench && npm install");
  process.exit(2);
}
const PARTYD = process.env.PARTYD ?? path.join(ROOT, "build/partyd");
if (!fs.existsSync(PARTYD)) {
  console.error(`no partyd at ${PARTYD}: build it, or set PARTYD`);
  process.exit(2);
}

// ---- the project ------------------------------------------------------------------------------

function mainSource(version) {
  return `export const VERSION = ${JSON.stringify(version)};
export default class Main {
  static options = { hibernate: true };
  constructor(room) { this.room = room; }
  getConnectionTags(conn, ctx) { return ["t" + new URL(ctx.request.url).searchParams.get("t")]; }
  onConnect(conn) {
    conn.setState({ n: 0 });
    conn.send(JSON.stringify({ v: VERSION }));
  }
  onMessage(message, conn) {
    const state = conn.setState({ n: conn.state.n + 1 });
    conn.send(JSON.stringify({ v: VERSION, id: conn.id, tags: conn.tags, n: state.n, echo: message }));
  }
  onRequest() { return new Response(VERSION); }
}
`;
}

const PLAIN_SOURCE = `import { VERSION } from "./server.js";
export default class Plain {
  constructor(room) { this.room = room; }
  onConnect(conn) { conn.send(VERSION); }
  onMessage(message, conn) { conn.send(VERSION); }
  async onRequest(req) {
    const delay = Number(new URL(req.url).searchParams.get("delay") ?? 0);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    return new Response(VERSION);
  }
}
`;

function writeProject(dir) {
  fs.mkdirSync(path.join(dir, "src"), { recursive: true });
  fs.writeFileSync(path.join(dir, "partykit.json"), JSON.stringify({
    name: "bench-redeploy", main: "src/server.js", compatibilityDate: "2024-07-18",
    parties: { plain: "src/plain.js" },
  }));
  fs.writeFileSync(path.join(dir, "src/server.js"), mainSource("v1"));
  fs.writeFileSync(path.join(dir, "src/plain.js"), PLAIN_SOURCE);
}

// ---- clients ----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Opens `count` sockets with at most 64 handshakes at once; `make(i)` opens one and resolves once
// it is greeted.
async function openMany(count, make) {
  const out = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(64, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await make(i);
    }
  }));
  return out;
}

// A WebSocket with an inbox: resolves once its first message came.
function openClient(port, urlPath) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`);
    const client = { ws, path: urlPath, messages: [], closed: null, waiters: [] };
    ws.on("message", (data) => {
      client.messages.push(data.toString());
      for (const w of client.waiters.splice(0)) w();
      if (client.messages.length === 1) resolve(client);
    });
    ws.on("close", (code) => {
      client.closed = { code, at: Date.now() };
      for (const w of client.waiters.splice(0)) w();
    });
    ws.on("error", (e) => reject(e));
  });
}

async function nextMessage(client, from, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (client.messages.length <= from) {
    if (client.closed || Date.now() > end) return null;
    await new Promise((r) => {
      client.waiters.push(r);
      setTimeout(r, 100);
    });
  }
  return client.messages[from];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
function get(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, body: e.message }));
  });
}

function machine() {
  let git = "?";
  try {
    git = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {}
  return { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? "?", kernel: os.release(), git };
}

// ---- one round ----------------------------------------------------------------------------------

async function round(index) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-redeploy-"));
  writeProject(dir);
  const flags = ["--hibernate-after", String(HIBERNATE_AFTER_MS), ...(THREADS ? ["--threads", THREADS] : [])];
  const data = path.join(dir, "data");
  const server = await startServer({
    name: "partyd",
    command: (port) => ({
      cmd: PARTYD,
      args: UPGRADE
        ? ["serve", "--address", "127.0.0.1", "--port", String(port), "--quiet", "--data", data, ...flags, dir]
        : ["dev", "--port", String(port), "--quiet", "--no-persist", ...flags, dir],
    }),
  }, {});
  const { port } = server;
  try {
    // Sockets: the hibernating party's in ROOMS rooms (the first LIVE_ROOMS kept busy), the plain
    // party's in ROOMS rooms of its own.
    const hib = await openMany(HIBERNATED, (i) => openClient(port, `/parties/main/h${i % ROOMS}?_pk=h${i}&t=${i}`));
    const plain = await openMany(PLAIN, (i) => openClient(port, `/parties/plain/p${i % ROOMS}?_pk=p${i}`));
    const live = hib.filter((_, i) => i % ROOMS < LIVE_ROOMS);
    // One message each, so that every socket has a state (n = 1) to keep.
    await Promise.all(hib.map(async (c) => {
      c.ws.send("before");
      await nextMessage(c, 1);
    }));
    // The quiet rooms drop their objects.
    await sleep(2 * HIBERNATE_AFTER_MS + 1000);

    let running = true;
    const http = { ok: 0, failed: 0, inFlight: 0, inFlightAtSwap: 0, byBody: {}, errors: [], lastAt: Date.now(), pause: 0 };
    // New TCP connections, one every 5 ms: any refused one is a connection lost to the swap.
    const conns = { ok: 0, refused: 0, other: 0 };
    const connectLoop = (async () => {
      while (running) {
        await new Promise((resolve) => {
          const s = net.connect(port, "127.0.0.1");
          s.once("connect", () => { conns.ok++; s.destroy(); resolve(); });
          s.once("error", (e) => { if (e.code === "ECONNREFUSED") conns.refused++; else conns.other++; resolve(); });
        });
        await sleep(5);
      }
    })();
    const httpLoops = Array.from({ length: HTTP_CONCURRENCY }, async (_, w) => {
      for (let i = 0; running; i++) {
        const target = w % 2 ? `/parties/plain/p${(w + i) % ROOMS}?delay=${HTTP_DELAY_MS}` : `/parties/main/web${(w + i) % ROOMS}`;
        http.inFlight++;
        const r = await get(port, target);
        http.inFlight--;
        if (r.status === 200) {
          const now = Date.now();
          http.pause = Math.max(http.pause, now - http.lastAt);
          http.lastAt = now;
          http.ok++;
          http.byBody[r.body] = (http.byBody[r.body] ?? 0) + 1;
        } else {
          http.failed++;
          if (http.errors.length < 5) http.errors.push(`${target}: ${r.status} ${r.body.slice(0, 100)}`);
        }
      }
    });
    // The live hibernating rooms: one message per live socket every 50 ms.
    const livePings = (async () => {
      while (running) {
        for (const c of live) if (!c.closed) c.ws.send("ping");
        await sleep(50);
      }
    })();
    // Plain sockets reconnect after a 1012 as partysocket does (same _pk, at once); for an
    // upgrade, hibernated ones too (a new process cannot keep them).
    const reconnects = [];
    for (const c of UPGRADE ? [...hib, ...plain] : plain) {
      c.ws.once("close", (code) => {
        if (code !== 1012) return;
        reconnects.push(openClient(port, c.path).then((again) => {
          const greeting = again.messages[0];
          again.ws.close();
          return greeting;
        }, () => null));
      });
    }

    await sleep(WARMUP_S * 1000);
    const swapAt = Date.now();
    http.inFlightAtSwap = http.inFlight;
    let swapMs = null;
    if (UPGRADE) {
      process.kill(server.pid, "SIGUSR2");
      const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
      while (alive(server.pid) && Date.now() - swapAt < 60_000) await sleep(5);
      swapMs = Date.now() - swapAt;
    } else if (REDEPLOY_CMD) {
      execSync(REDEPLOY_CMD, { stdio: "inherit", env: { ...process.env, PORT: String(port), PROJECT: dir } });
    } else {
      fs.writeFileSync(path.join(dir, "src/server.js"), mainSource("v2"));
    }
    while (!UPGRADE && swapMs === null && Date.now() - swapAt < 60_000) {
      const r = await get(port, `/parties/main/probe${Date.now()}`);
      if (r.body === "v2") swapMs = Date.now() - swapAt;
      else await sleep(20);
    }
    await sleep(AFTER_S * 1000);
    running = false;
    await Promise.all([...httpLoops, livePings, connectLoop]);
    const greetings = await Promise.all(reconnects);

    // Every hibernating socket: still open, and answering from v2 with its id, tags and state.
    let answeredV2 = 0;
    const wrong = [];
    await Promise.all(hib.map(async (c, i) => {
      if (c.closed || UPGRADE) return;
      const from = c.messages.length;
      c.ws.send("after");
      for (let k = from; ; k++) {
        const m = await nextMessage(c, k);
        if (m === null) return wrong.push(`h${i}: no answer`);
        const a = JSON.parse(m);
        if (a.echo !== "after") continue;
        const quiet = i % ROOMS >= LIVE_ROOMS;
        if (a.v === "v2" && a.id === `h${i}` && a.tags?.includes(`t${i}`) && (quiet ? a.n === 2 : a.n > 2)) answeredV2++;
        else if (wrong.length < 5) wrong.push(`h${i}: ${m}`);
        return;
      }
    }));

    const closes = (list) => {
      const byCode = {};
      for (const c of list) if (c.closed) byCode[c.closed.code] = (byCode[c.closed.code] ?? 0) + 1;
      return byCode;
    };
    const closeTimes = (UPGRADE ? [...hib, ...plain] : plain).filter((c) => c.closed?.code === 1012).map((c) => c.closed.at - swapAt);
    const plainCloseTimes = plain.filter((c) => c.closed?.code === 1012).map((c) => c.closed.at - swapAt);
    const result = {
      workload: "redeploy", round: index, server: "partyd", label: LABEL, machine: machine(),
      hibernated: HIBERNATED, plain: PLAIN, rooms: ROOMS, live_rooms: LIVE_ROOMS,
      http_concurrency: HTTP_CONCURRENCY, http_delay_ms: HTTP_DELAY_MS,
      redeploy: UPGRADE ? "binary upgrade (SIGUSR2, serve --takeover)" : REDEPLOY_CMD ?? "rewrite src/server.js",
      mode: UPGRADE ? "upgrade" : "redeploy",
      hibernated_closes_by_code: closes(hib), plain_closes_by_code: closes(plain),
      hibernated_closed: hib.filter((c) => c.closed).length,
      hibernated_answered_v2: answeredV2, hibernated_wrong: wrong,
      plain_1012: plainCloseTimes.length, plain_reconnected: greetings.filter((g) => g === "v2").length,
      reconnected: greetings.filter((g) => g !== null && g !== undefined).length,
      refused: conns.refused, connects_ok: conns.ok, connect_other_errors: conns.other, pause_ms: http.pause,
      http_ok: http.ok, http_failed: http.failed, http_in_flight_at_swap: http.inFlightAtSwap,
      http_by_body: http.byBody, http_errors: http.errors,
      swap_ms: swapMs, drain_ms: closeTimes.length ? Math.max(...closeTimes) : null,
      at: new Date().toISOString(),
    };
    for (const c of [...hib, ...plain]) if (!c.closed) c.ws.terminate();
    return result;
  } finally {
    await server.stop();
    // After an upgrade the server is another process of the same process group.
    if (UPGRADE) {
      try { process.kill(-server.pid, "SIGTERM"); } catch {}
      await sleep(500);
      try { process.kill(-server.pid, "SIGKILL"); } catch {}
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const outFile = path.join(ROOT, "bench/results", `${new Date().toISOString().slice(0, 10)}-redeploy.jsonl`);
let failed = false;
for (let i = 0; i < ROUNDS; i++) {
  const r = await round(i);
  console.log(JSON.stringify(r));
  if (SAVE) fs.appendFileSync(outFile, JSON.stringify(r) + "\n");
  if (UPGRADE) {
    failed ||= r.refused > 0 || r.http_failed > 0 || r.reconnected !== HIBERNATED + PLAIN;
  } else {
    failed ||= r.hibernated_closed > 0 || r.hibernated_answered_v2 !== HIBERNATED || r.http_failed > 0 ||
      r.plain_1012 !== PLAIN;
  }
}
agent.destroy();
if (failed) {
  console.error(UPGRADE
    ? "upgrade: a check failed (refused connections, HTTP failures, or sockets that did not reconnect)"
    : "redeploy: a check failed (hibernated sockets closed or not on v2, plain sockets without 1012, or HTTP failures)");
  process.exit(1);
}
// Client sockets left half-closed by a server that was killed (after an upgrade, a process of the
// group) can keep the event loop alive; the rounds are done.
process.exit(0);
