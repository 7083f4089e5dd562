#!/usr/bin/env node
// Cluster mode on three local nodes (127.0.0.11-13, one etcd, one PostgreSQL, all on loopback),
// using the harness of tests/cluster/lib. Three measurements in one run:
//   1. the forwarded hop: WebSocket incr->ack round trips and HTTP POST incr through the room's
//      owner against through a non-owner (which forwards to the owner), in alternating blocks;
//   2. failover: kill -9 of a room's owner (lease TTL 2 s), time until an incr of that room
//      through a surviving node is acknowledged (polled every 50 ms); then restart, 3 members;
//   3. broadcast: one room, 50 WebSocket clients spread over the 3 nodes, one sender with a
//      window of 32 outstanding incrs; count broadcasts delivered to all clients per second.
// Usage: node bench/cluster.mjs [--quick]   (from the repo root; needs etcd, PostgreSQL and
// build/partyd, as tests/cluster does). Ends with one JSON line.
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { request } from "../tests/cluster/lib/client.mjs";
import { startEtcd } from "../tests/cluster/lib/etcd.mjs";
import { clusterSkipReason, PARTYD, startNodes } from "../tests/cluster/lib/nodes.mjs";
import { startPostgres } from "../tests/cluster/lib/postgres.mjs";
import { sleep, waitFor } from "../tests/cluster/lib/proc.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WebSocket = createRequire(path.join(ROOT, "tests", "cluster", "lib", "client.mjs"))("ws");

const QUICK = process.argv.includes("--quick");
const N_WS = QUICK ? 200 : 2000;
const N_HTTP = QUICK ? 100 : 1000;
const KILLS = QUICK ? 5 : 20;
const N_BCAST = QUICK ? 300 : 2000;
const BCAST_CLIENTS = 50;
const WINDOW = 32;
const TTL = 2;
const WS_BLOCK = 100; // alternating blocks: owner, non-owner, owner, …
const HTTP_BLOCK = 50;

const log = (...a) => console.log(...a);

function pct(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const stats = (xs) => ({ n: xs.length, min: pct(xs, 0), p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: pct(xs, 100) });
const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
const roundStats = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === "n" ? v : r2(v)]));

/** A WebSocket to a room through `host`; resolves once the room's "state" message arrived. */
function openSocket(host, room, { onText } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${host}/parties/main/${encodeURIComponent(room)}`, { perMessageDeflate: false });
    const c = { ws, host, counts: 0, acks: new Map(), state: null };
    const timer = setTimeout(() => reject(new Error(`no state message from ${host} for ${room}`)), 20_000);
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"count"')) c.counts++;
      else if (text.startsWith('{"type":"ack"')) {
        const m = JSON.parse(text);
        const w = c.acks.get(m.id);
        if (w) {
          c.acks.delete(m.id);
          w(m);
        }
      } else if (text.startsWith('{"type":"state"')) {
        c.state = JSON.parse(text);
        clearTimeout(timer);
        resolve(c);
      }
      onText?.(text);
    });
    ws.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

let nextId = 1;
/** Sends {"incr": id} on `c`; resolves with the ack. */
function wsIncr(c) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      c.acks.delete(id);
      reject(new Error(`no ack ${id} from ${c.host} in 10 s`));
    }, 10_000);
    c.acks.set(id, (m) => {
      clearTimeout(t);
      resolve(m);
    });
    c.ws.send(JSON.stringify({ incr: id }));
  });
}

async function httpIncr(host, room, timeout = 5000) {
  const res = await request(host, `/parties/main/${encodeURIComponent(room)}`, { method: "POST", timeout });
  if (res.status !== 200) throw new Error(`POST via ${host}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  const v = res.json();
  if (!Number.isInteger(v.value)) throw new Error(`POST via ${host}: ${res.text.slice(0, 200)}`);
  return v;
}

async function firstHttpOk(host, room, timeout = 20_000) {
  return waitFor(() => httpIncr(host, room, 3000), { timeout, interval: 50, what: `an incr of ${room} via ${host}` });
}

async function hopLatency(cluster) {
  const room = `lat-${Date.now()}`;
  await firstHttpOk(cluster.nodes[0].host, room);
  const owner = await cluster.ownerOf(room);
  const ownerNode = cluster.nodeAt(owner.addr);
  const other = cluster.nodes.find((x) => x !== ownerNode);
  log(`hop: room ${room} owned by ${ownerNode.name} (${owner.addr}); non-owner client via ${other.name}`);
  const via = { owner: ownerNode.host, forwarded: other.host };
  const sockets = { owner: await openSocket(via.owner, room), forwarded: await openSocket(via.forwarded, room) };
  const ws = { owner: [], forwarded: [] };
  const http = { owner: [], forwarded: [] };
  try {
    // Warm-up, not recorded.
    for (const k of ["owner", "forwarded"]) {
      for (let i = 0; i < 50; i++) await wsIncr(sockets[k]);
      for (let i = 0; i < 20; i++) await httpIncr(via[k], room);
    }
    for (let done = 0; done < N_WS; done += WS_BLOCK) {
      for (const k of ["owner", "forwarded"]) {
        for (let i = 0; i < Math.min(WS_BLOCK, N_WS - done); i++) {
          const t0 = performance.now();
          await wsIncr(sockets[k]);
          ws[k].push((performance.now() - t0) * 1000);
        }
      }
    }
    for (let done = 0; done < N_HTTP; done += HTTP_BLOCK) {
      for (const k of ["owner", "forwarded"]) {
        for (let i = 0; i < Math.min(HTTP_BLOCK, N_HTTP - done); i++) {
          const t0 = performance.now();
          await httpIncr(via[k], room);
          http[k].push((performance.now() - t0) * 1000);
        }
      }
    }
  } finally {
    for (const c of Object.values(sockets)) c.ws.close();
  }
  const out = {};
  for (const [name, d] of [["ws", ws], ["http", http]]) {
    const o = roundStats(stats(d.owner));
    const f = roundStats(stats(d.forwarded));
    out[name] = { owner: o, forwarded: f, ratio_p50: r2(f.p50 / o.p50), ratio_p99: r2(f.p99 / o.p99) };
    log(`hop ${name.padEnd(4)} owner     p50 ${o.p50} µs  p90 ${o.p90}  p99 ${o.p99}  (n=${o.n})`);
    log(`hop ${name.padEnd(4)} non-owner p50 ${f.p50} µs  p90 ${f.p90}  p99 ${f.p99}  (n=${f.n})  ` +
        `ratio p50 ${out[name].ratio_p50}  p99 ${out[name].ratio_p99}`);
  }
  return out;
}

async function failover(cluster) {
  const times = [];
  const restarts = [];
  for (let round = 0; round < KILLS; round++) {
    const room = `fo${round}-${Date.now()}`;
    const start = cluster.nodes[round % 3];
    await firstHttpOk(start.host, room);
    const owner = await cluster.ownerOf(room);
    const victim = cluster.nodeAt(owner.addr);
    const survivor = cluster.nodes.find((x) => x !== victim && x.running);
    const tKill = performance.now();
    await victim.kill9();
    let ms = null;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      try {
        await httpIncr(survivor.host, room, 3000);
        ms = performance.now() - tKill;
        break;
      } catch {}
      await sleep(50);
    }
    if (ms === null) throw new Error(`round ${round}: ${room} not acknowledged via ${survivor.host} within 30 s`);
    const now = await cluster.ownerOf(room);
    const tr = performance.now();
    await victim.restart();
    await cluster.waitMembers(3, 30_000);
    restarts.push(performance.now() - tr);
    times.push(ms);
    log(`failover ${round + 1}/${KILLS}: killed ${victim.name}, ${room} back via ${survivor.name} on ` +
        `${cluster.nodeAt(now?.addr)?.name ?? now?.addr} after ${ms.toFixed(0)} ms; rejoin ${(performance.now() - tr).toFixed(0)} ms`);
    await sleep(500);
  }
  const s = roundStats(stats(times.map((x) => Math.round(x))));
  log(`failover ms (TTL ${TTL} s, n=${s.n}): min ${s.min}  p50 ${s.p50}  p90 ${s.p90}  max ${s.max}`);
  return { ttl_s: TTL, ms: s, restart_rejoin_ms_p50: Math.round(pct(restarts, 50)) };
}

async function broadcast(cluster) {
  const room = `bc-${Date.now()}`;
  await firstHttpOk(cluster.nodes[0].host, room);
  const owner = await cluster.ownerOf(room);
  const clients = [];
  for (let i = 0; i < BCAST_CLIENTS; i++) clients.push(await openSocket(cluster.nodes[i % 3].host, room));
  const onOwner = clients.filter((c) => c.host === owner.addr).length;
  const sender = clients[0];
  const before = clients.map((c) => c.counts);
  let acked = 0;
  const t0 = performance.now();
  try {
    await new Promise((resolve, reject) => {
      let sent = 0;
      const pump = () => {
        while (sent < N_BCAST && sent - acked < WINDOW) {
          sent++;
          wsIncr(sender).then(() => {
            acked++;
            if (acked === N_BCAST) resolve();
            else pump();
          }, reject);
        }
      };
      pump();
    });
    const tAcked = performance.now() - t0;
    const expected = BCAST_CLIENTS * N_BCAST;
    const got = () => clients.reduce((a, c, i) => a + c.counts - before[i], 0);
    await waitFor(() => got() >= expected, { timeout: 60_000, interval: 5, what: "all broadcasts delivered" }).catch(() => {});
    const elapsed = performance.now() - t0;
    const delivered = got();
    const out = {
      clients: BCAST_CLIENTS, on_owner: onOwner, forwarded: BCAST_CLIENTS - onOwner, messages: N_BCAST, window: WINDOW,
      delivered, expected, elapsed_ms: Math.round(elapsed), acked_ms: Math.round(tAcked),
      deliveries_per_s: Math.round(delivered / (elapsed / 1000)), incrs_per_s: Math.round(N_BCAST / (tAcked / 1000)),
    };
    log(`broadcast: ${BCAST_CLIENTS} clients (${onOwner} on the owner ${cluster.nodeAt(owner.addr).name}, ` +
        `${BCAST_CLIENTS - onOwner} forwarded), ${N_BCAST} incrs, window ${WINDOW}: ${delivered}/${expected} ` +
        `deliveries in ${out.elapsed_ms} ms = ${out.deliveries_per_s}/s; acks done at ${out.acked_ms} ms (${out.incrs_per_s} incr/s)`);
    return out;
  } finally {
    for (const c of clients) c.ws.close();
  }
}

async function main() {
  const skip = clusterSkipReason();
  if (skip) throw new Error(`cannot run: ${skip}`);
  log(`bench/cluster.mjs${QUICK ? " --quick" : ""}: ${PARTYD}, 3 nodes, ${os.cpus().length} CPUs, ` +
      `load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}, ${new Date().toISOString()}`);
  const started = [];
  const summary = { date: new Date().toISOString(), quick: QUICK, cpus: os.cpus().length };
  try {
    const etcd = await startEtcd({ members: 1 });
    started.push(etcd);
    const pg = await startPostgres();
    started.push(pg);
    const cluster = await startNodes({ etcd, pg, n: 3, ttl: TTL });
    started.push(cluster);
    try {
      summary.hop = await hopLatency(cluster);
      summary.broadcast = await broadcast(cluster);
      summary.failover = await failover(cluster);
    } catch (e) {
      console.error(cluster.logs().slice(-8000));
      throw e;
    }
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
  summary.load_after = os.loadavg().map((x) => r2(x));
  console.log(JSON.stringify(summary));
}

main().then(() => process.exit(0), (e) => {
  console.error(e.stack ?? e);
  process.exit(1);
});
