// The servers that bench/compare puts side by side, and how to start and stop one. Each server
// prints "Ready on http://0.0.0.0:N" once it listens; N is read from that line, never assumed
// (`partykit dev` silently takes another port when its own is busy).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const BENCH = path.join(ROOT, "bench");

// findTool returns the newest of bench/<name> built under build-bench/ or build/, or null.
export function findTool(name) {
  const candidates = [
    process.env[`BENCH_${name.toUpperCase()}`],
    path.join(ROOT, "build-bench/bench", name),
    path.join(ROOT, "build/bench", name),
  ].filter((p) => p && fs.existsSync(p));
  candidates.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return candidates[0] ?? null;
}

// The projects the hand-written servers can stand in for: node-ws knows bench/party and, with
// --storage, bench/party-storage; the floor knows only bench/party.
const NODE_WS_ARGS = { party: [], "party-storage": ["--storage"] };
export const HIBERNATE_PROJECT = path.join(BENCH, "party-hibernate");

// serverSpecs returns the servers for one workload. A spec: { name, what, missing (a reason, or
// null), command(port) → {cmd, args, cwd, env}, loadgenArgs (extra flags for loadgen) }.
// `project` is the PartyKit project directory. `hibernateAfterMs` goes to partyd's
// --hibernate-after (rooms with options.hibernate drop their JS object after that long idle).
export function serverSpecs({ workload, project, partydThreads, hibernateAfterMs }) {
  const partyd = process.env.PARTYD ?? path.join(ROOT, "build/partyd");
  const partykit = path.join(ROOT, "ref/node_modules/.bin/partykit");
  const nodeWs = path.join(BENCH, "node_modules/ws/package.json");
  const resolved = path.resolve(project);
  const handWritten = resolved === path.join(BENCH, "party");
  const nodeWsArgs = path.dirname(resolved) === BENCH ? NODE_WS_ARGS[path.basename(resolved)] : undefined;
  const echo = findTool("epoll_echo");
  const broadcast = findTool("epoll_broadcast");
  const partydFlags = [...(partydThreads ? ["--threads", String(partydThreads)] : []),
    ...(hibernateAfterMs ? ["--hibernate-after", String(hibernateAfterMs)] : [])];
  const specs = [
    {
      name: "partyd",
      what: ["build/partyd dev", ...partydFlags].join(" "),
      missing: fs.existsSync(partyd) ? null : `${path.relative(ROOT, partyd)} is not built`,
      command: (port) => ({
        cmd: partyd,
        args: ["dev", "--port", String(port), ...partydFlags, "--no-persist", project],
      }),
    },
    // A second build of partyd (PARTYD_BASE=path), to put a change beside its parent in one run.
    ...(process.env.PARTYD_BASE ? [{
      name: "partyd-base",
      what: [`${process.env.PARTYD_BASE} dev`, ...partydFlags].join(" "),
      missing: fs.existsSync(process.env.PARTYD_BASE) ? null : `${process.env.PARTYD_BASE} is not built`,
      command: (port) => ({
        cmd: process.env.PARTYD_BASE,
        args: ["dev", "--port", String(port), ...partydFlags, "--no-persist", project],
      }),
    }] : []),
    {
      name: "partykit",
      what: "npx partykit@0.0.115 dev (workerd)",
      missing: fs.existsSync(partykit) ? null : "ref/node_modules/.bin/partykit is missing (see bench/README.md)",
      command: (port) => ({
        cmd: partykit,
        args: ["dev", "--no-hotkeys", "--disable-request-cf-fetch", "--persist", "false", "-p", String(port)],
        cwd: project,
        env: { NO_UPDATE_NOTIFIER: "1" },
      }),
    },
    {
      name: "node-ws",
      what: ["bench/node-ws/server.mjs", ...(nodeWsArgs ?? [])].join(" ") + " (Node ws)",
      missing: !nodeWsArgs ? "only runs bench/party's and bench/party-storage's logic"
        : fs.existsSync(nodeWs) ? null : "bench/node_modules/ws is missing: cd bench && npm install",
      command: (port) => ({ cmd: process.execPath,
        args: [path.join(BENCH, "node-ws/server.mjs"), "--port", String(port), ...(nodeWsArgs ?? [])] }),
    },
  ];
  // W7 without storage beside W7 with it, in one run: partyd on bench/party (its onMessage
  // broadcasts at once). Only when named in --servers.
  if (workload === "soak" && path.basename(resolved) === "party-storage") {
    specs.push({
      name: "partyd-nostorage",
      optIn: true,
      what: ["build/partyd dev", ...partydFlags, "bench/party (no storage)"].join(" "),
      missing: fs.existsSync(partyd) ? null : `${path.relative(ROOT, partyd)} is not built`,
      command: (port) => ({
        cmd: partyd,
        args: ["dev", "--port", String(port), ...partydFlags, "--no-persist", path.join(BENCH, "party")],
      }),
    });
  }
  if (workload === "echo") {
    specs.push({
      name: "floor",
      what: "bench/floor/epoll_echo (C++ epoll, WebSocket)",
      missing: !handWritten ? "only runs bench/party's logic" : echo ? null : "epoll_echo is not built",
      command: (port) => ({ cmd: echo, args: ["--port", String(port)] }),
    });
    specs.push({
      name: "tcp",
      what: "epoll_echo --raw + loadgen echo --raw (plain TCP, no WebSocket)",
      missing: echo ? null : "epoll_echo is not built",
      command: (port) => ({ cmd: echo, args: ["--port", String(port), "--raw"] }),
      loadgenArgs: ["--raw"],
    });
  } else {
    specs.push({
      name: "floor",
      what: "bench/floor/epoll_broadcast (C++ epoll, one thread)",
      // W7: the floor stands in for bench/party-storage too (same frames, no storage): the
      // transport's own put → ack, under partyd's with and without storage.
      missing: !handWritten && !(workload === "soak" && path.basename(resolved) === "party-storage")
        ? "only runs bench/party's logic" : broadcast ? null : "epoll_broadcast is not built",
      command: (port) => ({ cmd: broadcast, args: ["--port", String(port)] }),
    });
  }
  return specs;
}

// freePort asks the kernel for a port that is free right now.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "0.0.0.0", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// RT_PREFIX runs a command under SCHED_FIFO (compare --rt): it then runs as soon as it wakes,
// ahead of whatever else (a compiler) shares its CPU. Threads and children inherit it.
export const RT_PREFIX = ["chrt", "-f", "50"];

// startServer starts `spec` (under `taskset -c cpus` when cpus is set, `chrt -f` when rt is) in its own process group
// and resolves to { pid, port, stop() } once it prints its Ready line.
export async function startServer(spec, { cpus, rt = false, timeoutMs = 120_000, log }) {
  const port = await freePort();
  const { cmd, args, cwd, env } = spec.command(port);
  const argv = [...(rt ? RT_PREFIX : []), ...(cpus ? ["taskset", "-c", cpus] : []), cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: cwd ?? ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve) => {
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.length > 100_000) output = output.slice(-50_000);
      // eslint-disable-next-line no-control-regex
      const match = output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").match(/Ready on https?:\/\/[^\s:]+:(\d+)/);
      if (match) resolve(Number(match[1]));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-child.pid, "SIGTERM"); } catch {}
    const timer = new Promise((resolve) => setTimeout(resolve, 5000, "timeout"));
    if ((await Promise.race([exited, timer])) === "timeout") {
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      await exited;
    }
  };
  const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs, "timeout"));
  const first = await Promise.race([ready, exited.then((e) => ({ exit: e })), timeout]);
  if (typeof first !== "number") {
    await stop();
    const why = first === "timeout" ? `no Ready line after ${timeoutMs / 1000} s`
      : `exited (${first.exit.code ?? first.exit.signal}) before it was ready`;
    throw new Error(`${spec.name}: ${why}\n${output.slice(-2000)}`);
  }
  if (log) log(`${spec.name} ready on port ${first} (pid ${child.pid})`);
  child.stdout.resume();
  child.stderr.resume();
  return { pid: child.pid, port: first, stop, output: () => output };
}
