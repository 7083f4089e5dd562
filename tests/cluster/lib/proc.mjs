// Child processes of the cluster tests: spawned in their own process group, their output kept
// (the last 200 KB) for the failure report, signalled and stopped by pid. Every process started
// here is SIGKILLed when the test process exits, whatever the outcome, so a failed test leaves
// no etcd, postgres or partyd behind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";

const live = new Set();
function killAllLive() {
  for (const p of live) {
    try {
      process.kill(-p.pid, "SIGCONT"); // a stopped process group cannot act on SIGKILL late
    } catch {}
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {}
  }
  live.clear();
}
process.on("exit", killAllLive);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killAllLive();
    process.exit(130);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on `host` (default 127.0.0.1), found by binding port 0. */
export async function freePort(host = "127.0.0.1") {
  const srv = net.createServer();
  srv.listen(0, host);
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

export function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Calls `check` until it returns a truthy value, or throws after `timeout` ms. An error thrown by
 * `check` is retried, unless it has `fatal: true` (see `fatal`).
 */
export async function waitFor(check, { timeout = 10_000, interval = 50, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      if (e?.fatal) throw e; // no point waiting (e.g. the process exited)
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await sleep(interval);
  }
}

/** An Error that waitFor does not retry. */
export function fatal(message) {
  return Object.assign(new Error(message), { fatal: true });
}

/** True while a process with this pid exists (a zombie counts as gone). */
export function pidAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** The direct children of `pid` (from /proc). */
export function childPids(pid) {
  const out = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) out.push(Number(e));
    } catch {}
  }
  return out;
}

/**
 * Spawns `cmd args` in its own process group and keeps its output.
 * Returns { pid, child, name, exited (promise of {code, signal}), logs(), signal(sig),
 *           stop({signal, timeout}) }.
 */
export function startProcess(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    ...opts,
  });
  let out = "";
  const keep = (d) => {
    out += d;
    if (out.length > 400_000) out = out.slice(-200_000);
    if (process.env.CLUSTER_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  live.add(child);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once("error", (e) => {
      live.delete(child);
      out += `\n[spawn error] ${e.message}\n`;
      resolve({ code: null, signal: null, error: e });
    });
  });
  const p = {
    name,
    child,
    pid: child.pid,
    exited,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    logs: () => out,
    /** Signals the process itself (not its group). */
    signal(sig) {
      if (!p.running) return false;
      try {
        process.kill(child.pid, sig);
        return true;
      } catch {
        return false;
      }
    },
    /** Sends `signal` (default SIGTERM), waits up to `timeout` ms, then SIGKILLs the group. */
    async stop({ signal = "SIGTERM", timeout = 10_000 } = {}) {
      if (p.running) {
        try {
          process.kill(child.pid, "SIGCONT");
        } catch {}
        try {
          process.kill(child.pid, signal);
        } catch {}
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
        }, timeout);
        await exited;
        clearTimeout(t);
      }
      try {
        process.kill(-child.pid, "SIGKILL"); // what is left of the group
      } catch {}
      return exited;
    },
  };
  return p;
}
