#!/usr/bin/env node
// Storage bench (issue 3): durable puts per second through onRequest, and the time of one
// storage.get measured inside the room, on partyd and `partykit dev`, alternating rounds in one
// run. Both keep state on disk (a fresh --persist directory per round).
//   node bench/storage.mjs [--rounds 3] [--requests 4000] [--concurrency 16] [--gets 20000]
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ROOT, startServer } from "./lib/servers.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const ROUNDS = Number(args.rounds ?? 3);
const REQUESTS = Number(args.requests ?? 4000);
const CONCURRENCY = Number(args.concurrency ?? 16);
const GETS = Number(args.gets ?? 20000);
const project = path.join(ROOT, "bench/party-kv");
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

// partykit dev now and then drops a keep-alive connection; a failed request is retried.
let retries = 0;
async function get(port, p) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getOnce(port, p);
    } catch (e) {
      if (attempt >= 5) throw e;
      retries++;
    }
  }
}

function getOnce(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method: p.includes("/put") ? "POST" : "GET", agent }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode} ${body}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

async function putsPerSecond(port) {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    while (next < REQUESTS) {
      const i = next++;
      await get(port, `/parties/main/kv${w % 4}/put?key=k${i}`);
    }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return REQUESTS / s;
}

const specs = [
  {
    name: "partyd",
    command: (port, dir) => ({ cmd: path.join(ROOT, "build/partyd"),
      args: ["dev", "--port", String(port), "--quiet", "--persist", dir, project] }),
  },
  {
    name: "partykit",
    command: (port, dir) => ({ cmd: path.join(ROOT, "ref/node_modules/.bin/partykit"),
      args: ["dev", "--no-hotkeys", "--disable-request-cf-fetch", "--persist", dir, "-p", String(port)],
      cwd: project, env: { NO_UPDATE_NOTIFIER: "1" } }),
  },
].filter((s) => fs.existsSync(s.command(0, "").cmd) || console.error(`skipping ${s.name}: not installed`));

const results = Object.fromEntries(specs.map((s) => [s.name, { puts: [], get: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const spec of specs) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kv-bench-"));
    const server = await startServer({ name: spec.name, command: (port) => spec.command(port, dir) }, {});
    try {
      await get(server.port, "/parties/main/warm/put?key=w");
      const puts = await putsPerSecond(server.port);
      const g = JSON.parse(await get(server.port, `/parties/main/getroom/gets?n=${GETS}`));
      results[spec.name].puts.push(puts);
      results[spec.name].get.push(g.us_per_get);
      console.log(JSON.stringify({ round, server: spec.name, puts_per_s: Math.round(puts), us_per_get: g.us_per_get }));
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\n| server | durable puts/s (median of ${ROUNDS}) | get, µs inside the room (median) |`);
console.log("|---|---|---|");
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${Math.round(median(r.puts))} | ${median(r.get).toFixed(2)} |`);
}
if (retries) console.log(`\n(${retries} requests were retried after a dropped connection)`);
agent.destroy();
