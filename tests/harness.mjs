// The one test harness of tests/e2e/ and tests/compat/: starts a server on a PartyKit project
// (a fixture under tests/fixtures/, or a corpus project under tests/compat/<feature>/), and gives
// tests small clients (raw WebSocket, PartySocket, HTTP) that never wait without a deadline.
//
// The target is chosen by the environment:
//   TARGET=partyd   (default) spawn $PARTYD (default <repo>/build/partyd)
//   TARGET=partykit spawn the reference, `partykit dev` from <repo>/ref/node_modules/partykit
//   HOST=127.0.0.1:PORT  use a server that is already running and serves the project
//
// The contract with partyd (see tests/README.md):
//   partyd dev --port <port> (--no-persist | --persist <dir>) [extra args] <fixture dir>
// and it prints a line containing `Ready on http://0.0.0.0:<port>` once it accepts connections.

import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

export const TESTS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(TESTS_DIR, "..");
export const FIXTURES_DIR = path.join(TESTS_DIR, "fixtures");
export const COMPAT_DIR = path.join(TESTS_DIR, "compat");

export const TARGET = process.env.HOST ? "external" : (process.env.TARGET ?? "partyd");
if (!["partyd", "partykit", "external"].includes(TARGET)) {
  throw new Error(`TARGET must be partyd or partykit, not ${TARGET}`);
}
export const IS_PARTYKIT = TARGET === "partykit";
export const IS_EXTERNAL = TARGET === "external";

// Deadlines. partykit dev bundles with esbuild and boots workerd, which takes seconds.
const READY_TIMEOUT_MS = Number(process.env.READY_TIMEOUT_MS ?? (IS_PARTYKIT ? 60_000 : 20_000));
const STOP_TIMEOUT_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
const CLOSE_GRACE_MS = 500;

// ---- small utilities -------------------------------------------------------------------------

/**
 * The `todo` option for a test that holds on partykit dev but not yet on partyd: a todo on
 * partyd (reported, not failing the run) that names the difference, a plain test elsewhere.
 * Remove it once partyd is fixed.
 */
export function partydTodo(difference) {
  return TARGET === "partyd" ? `partyd differs: ${difference}` : false;
}

/** Resolves or rejects like `promise`, or rejects after `ms` with a message naming `what`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Calls `check` until it returns a truthy value (which is returned), or fails after `ms`. */
export async function waitUntil(check, { timeout = DEFAULT_TIMEOUT_MS, interval = 25, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A free TCP port on 127.0.0.1, found by binding port 0. */
// A listener for sd_notify datagrams on `socketPath` ($NOTIFY_SOCKET; "@name" is an abstract
// name). Node has no Unix datagram sockets, so python3 receives them and prints each on a line
// of its own. Resolves once it is bound; text() is everything received so far.
export async function notifyListener(socketPath) {
  const proc = spawn("python3", ["-u", "-c", `
import socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + name[1:] if name.startswith("@") else name)
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", " "), flush=True)
`, socketPath], { stdio: ["ignore", "pipe", "inherit"] });
  let got = "";
  proc.stdout.on("data", (d) => (got += d));
  try {
    await waitUntil(() => got.includes("listening"), { what: "the notify listener" });
  } catch (e) {
    proc.kill();
    throw e;
  }
  return { text: () => got, stop: () => proc.kill() };
}

export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

export function tmpDir(prefix = "partyd-e2e-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---- servers ---------------------------------------------------------------------------------

const live = new Set(); // child processes to kill if the test process exits early
// Clients the helpers opened. server.stop() closes them, so a test that failed half-way cannot
// leave a reconnecting PartySocket behind that keeps the test process alive.
const openClients = new Set();

/** Closes every client the helpers opened that is still open. */
export function closeOpenClients() {
  for (const close of openClients) close();
  openClients.clear();
}
process.on("exit", () => {
  for (const child of live) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
});

function partydBinary() {
  return process.env.PARTYD ?? path.join(REPO_DIR, "build", "partyd");
}

function partykitBin() {
  const pkgDir = path.join(REPO_DIR, "ref", "node_modules", "partykit");
  const pkgFile = path.join(pkgDir, "package.json");
  if (!fs.existsSync(pkgFile)) {
    throw new Error(
      "TARGET=partykit needs the reference in ref/: " +
        "mkdir -p ref && cd ref && npm init -y && npm install partykit@0.0.115",
    );
  }
  const bin = JSON.parse(fs.readFileSync(pkgFile, "utf8")).bin;
  return path.join(pkgDir, typeof bin === "string" ? bin : bin.partykit);
}

/** Fixtures that import npm packages resolve them from tests/node_modules through a symlink. */
function linkNodeModules(fixtureDir) {
  if (!fs.existsSync(path.join(fixtureDir, "package.json"))) return;
  const link = path.join(fixtureDir, "node_modules");
  const target = path.relative(fixtureDir, path.join(TESTS_DIR, "node_modules"));
  try {
    if (fs.readlinkSync(link) === target) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch (e) {
    if (e.code !== "ENOENT") fs.rmSync(link, { recursive: true, force: true });
  }
  fs.symlinkSync(target, link, "dir");
}

function commandFor(fixtureDir, port, opts) {
  const extra = opts.args ?? [];
  if (IS_PARTYKIT) {
    const persist = opts.persist ? ["--persist", opts.persist] : ["--persist", "false"];
    return {
      cmd: process.execPath,
      args: [partykitBin(), "dev", "--no-hotkeys", "--disable-request-cf-fetch", "-p", String(port),
        ...persist, ...extra],
      cwd: fixtureDir,
    };
  }
  const persist = opts.persist ? ["--persist", opts.persist] : ["--no-persist"];
  const bin = partydBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(`no partyd binary at ${bin}: build it (make build), set PARTYD, or use TARGET=partykit`);
  }
  if (opts.serve) {
    // `partyd serve DIR`: the folder built once as the default project, its state under --data.
    return {
      cmd: bin,
      args: ["serve", "--port", String(port), "--data", opts.serve.data, ...extra, fixtureDir],
      cwd: TESTS_DIR,
    };
  }
  return {
    cmd: bin,
    args: ["dev", "--port", String(port), ...persist, ...extra, fixtureDir],
    cwd: TESTS_DIR,
  };
}

const READY_RE = /Ready on https?:\/\/\S+:(\d+)/; // \S+ backtracks to the last ":port" (IPv6 too)

/**
 * Starts a server for a project: `project` is a fixture name under tests/fixtures/, or an
 * absolute directory (a corpus project passes its own, `projectDir(import.meta.url)`).
 * opts: { persist?: dir, args?: string[], env?: object, serve?: { data: dir } } (serve: run
 * `partyd serve DIR` instead of `partyd dev`; partyd only)
 * Returns { host, port, dir, stop(), kill(signal), logs(), restart(), exited }.
 */
export async function startServer(project, opts = {}) {
  const fixtureDir = path.isAbsolute(project) ? project : path.join(FIXTURES_DIR, project);
  const fixtureName = path.basename(fixtureDir);
  if (!fs.existsSync(fixtureDir)) throw new Error(`no project ${fixtureDir}`);

  if (IS_EXTERNAL) {
    const host = process.env.HOST;
    return {
      host,
      port: Number(host.split(":").pop()),
      external: true,
      async stop() {},
      kill() {},
      logs: () => "(external server: no logs)",
      async restart() {
        throw new Error("restart() is not possible with HOST=");
      },
    };
  }

  linkNodeModules(fixtureDir);
  const server = {
    host: "",
    port: 0,
    dir: fixtureDir,
    child: null,
    output: [],
    exited: null,
    logs() {
      return this.output.join("");
    },
    kill(signal = "SIGTERM") {
      if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
      try {
        process.kill(-this.child.pid, signal);
      } catch {}
    },
    async stop() {
      closeOpenClients();
      const child = this.child;
      if (!child) return;
      this.child = null;
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
        try {
          await withTimeout(this.exited, STOP_TIMEOUT_MS, "server exit");
        } catch {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {}
          await withTimeout(this.exited, STOP_TIMEOUT_MS, "server exit after SIGKILL");
        }
      }
      // The group may still hold a grandchild (workerd under partykit).
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      live.delete(child);
    },
    /** Stops and starts again with the same options, on a new port: read `host` afresh. */
    async restart() {
      await this.stop();
      await launchOnFreePort();
      return this;
    },
  };

  // freePort's port can be taken before the server binds it (outgoing connections draw their
  // ephemeral ports from the same range): on "Address already in use", another port, twice more.
  async function launchOnFreePort() {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(0);
      } catch (e) {
        if (attempt >= 3 || !/Address already in use/.test(e.message)) throw e;
      }
    }
  }

  async function launch(preferredPort) {
    const port = preferredPort || (await freePort());
    const { cmd, args, cwd } = commandFor(fixtureDir, port, opts);
    const child = spawn(cmd, args, {
      cwd,
      detached: true, // own process group, so stop() reaches workerd too
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PWD: cwd, NO_UPDATE_NOTIFIER: "1", NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
    });
    live.add(child);
    server.child = child;
    server.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

    let buffered = "";
    const ready = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        const text = chunk.toString();
        server.output.push(text);
        if (process.env.E2E_VERBOSE) process.stderr.write(`[${fixtureName}] ${text}`);
        // Match whole lines only, so a port split across two chunks is not read short.
        buffered += text;
        const lines = buffered.split("\n");
        buffered = lines.pop().slice(-1000);
        for (const line of lines) {
          const m = READY_RE.exec(line);
          if (m) resolve(Number(m[1]));
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", reject);
      server.exited.then(({ code, signal }) =>
        reject(new Error(`server exited (code ${code}, signal ${signal}) before ready:\n${server.logs()}`)),
      );
    });
    let actualPort;
    try {
      actualPort = await withTimeout(ready, READY_TIMEOUT_MS, `"Ready on" from ${cmd} ${args.join(" ")}`);
    } catch (e) {
      await server.stop();
      e.message += `\n--- server output ---\n${server.logs()}`;
      throw e;
    }
    server.port = actualPort; // partykit silently picks another port when its port is taken
    server.host = `127.0.0.1:${actualPort}`;
    server.exited.then(({ code, signal }) => {
      if (server.child !== child) return; // stopped on purpose
      process.stderr.write(
        `[${fixtureName}] server exited unexpectedly (code ${code}, signal ${signal}); its output:\n` +
          server.logs().slice(-8000) + "\n",
      );
    });
  }

  await launchOnFreePort();
  return server;
}

/** The directory of the calling test file: a corpus test's project is its own folder. */
export function projectDir(importMetaUrl) {
  return path.dirname(fileURLToPath(importMetaUrl));
}

// ---- HTTP ------------------------------------------------------------------------------------

/**
 * fetch(`http://${host}${path}`). Resolves to { status, headers, text, json() } with the body
 * already read. `init.timeout` overrides the deadline.
 */
export async function http(host, urlPath, init = {}) {
  const { timeout = DEFAULT_TIMEOUT_MS, ...rest } = init;
  const res = await withTimeout(
    fetch(`http://${host}${urlPath}`, { ...rest, signal: AbortSignal.timeout(timeout) }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      text: await r.text(),
    })),
    timeout + 100,
    `HTTP ${rest.method ?? "GET"} ${urlPath}`,
  );
  res.json = () => {
    try {
      return JSON.parse(res.text);
    } catch {
      throw new Error(`not JSON (status ${res.status}): ${res.text.slice(0, 500)}`);
    }
  };
  return res;
}

// ---- WebSocket clients -----------------------------------------------------------------------

/** Builds a party path: { room, party = "main", id, query, path } -> /parties/main/room/path?... */
export function partyPath({ room, party = "main", id, query, path: sub } = {}) {
  const params = new URLSearchParams();
  if (id !== undefined) params.set("_pk", id);
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  const qs = params.toString();
  return `/parties/${party}/${room}${sub ? `/${sub}` : ""}${qs ? `?${qs}` : ""}`;
}

/** Collects incoming messages (text as string, binary as Buffer) behind a cursor. */
class Inbox {
  constructor(label) {
    this.label = label;
    this.messages = [];
    this.cursor = 0;
    this.waiters = [];
  }
  push(msg) {
    this.messages.push(msg);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
  changed() {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  /** The next unread message. */
  async nextMessage(timeout = DEFAULT_TIMEOUT_MS) {
    const end = Date.now() + timeout;
    while (this.cursor >= this.messages.length) {
      const left = end - Date.now();
      if (left <= 0) {
        throw new Error(`${this.label}: no message within ${timeout} ms (got ${this.messages.length} in total)`);
      }
      await withTimeout(this.changed(), left, `${this.label}: next message`).catch(() => {});
    }
    return this.messages[this.cursor++];
  }
  /** The next unread message parsed as JSON. */
  async nextJson(timeout = DEFAULT_TIMEOUT_MS) {
    const m = await this.nextMessage(timeout);
    if (typeof m !== "string") throw new Error(`${this.label}: expected a text message, got binary`);
    return JSON.parse(m);
  }
  /** Skips unread messages until one satisfies `pred`, and returns it. */
  async waitFor(pred, timeout = DEFAULT_TIMEOUT_MS, what = "a matching message") {
    const end = Date.now() + timeout;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${timeout} ms`);
      const m = await this.nextMessage(left).catch((e) => {
        throw new Error(`${this.label}: no ${what} within ${timeout} ms (${e.message})`);
      });
      if (pred(m)) return m;
    }
  }
  /** Marks every message received so far as read, and returns the ones that were unread. */
  drain() {
    const unread = this.messages.slice(this.cursor);
    this.cursor = this.messages.length;
    return unread;
  }
  /** Waits until at least `n` messages have arrived in total. */
  async waitForCount(n, timeout = DEFAULT_TIMEOUT_MS) {
    const end = Date.now() + timeout;
    while (this.messages.length < n) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.label}: ${this.messages.length}/${n} messages within ${timeout} ms`);
      await withTimeout(this.changed(), left, "messages").catch(() => {});
    }
    return this.messages;
  }
}

function toMessage(data, isBinary) {
  if (!isBinary) return data.toString("utf8");
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Opens a raw `ws` client without waiting. `target` is a path ("/party/r?x=1") or partyPath()
 * options. The returned client has:
 *   opened   promise: resolves on open; rejects with err.status/err.body on an HTTP answer
 *   closed   promise: resolves to { code, reason } (never rejects)
 *   messages, nextMessage(timeout), nextJson(timeout), waitFor(pred, timeout), waitForCount(n)
 *   send(data), sendJson(obj), close(code, reason), terminate()
 */
export function openSocket(host, target, { headers, timeout = DEFAULT_TIMEOUT_MS } = {}) {
  const p = typeof target === "string" ? target : partyPath(target);
  const ws = new WebSocket(`ws://${host}${p}`, { headers, handshakeTimeout: timeout });
  const inbox = new Inbox(`ws ${p}`);
  ws.on("message", (data, isBinary) => inbox.push(toMessage(data, isBinary)));

  const opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("unexpected-response", (_req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const err = new Error(`WebSocket upgrade refused: ${res.statusCode} ${body}`);
        err.status = res.statusCode;
        err.body = body;
        reject(err);
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
  opened.catch(() => {}); // callers that only look at `closed` must not crash the process
  ws.on("error", () => {}); // errors surface through `opened` / `closed`
  const closed = new Promise((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") })),
  );
  const untrack = () => ws.terminate();
  openClients.add(untrack);
  closed.then(() => openClients.delete(untrack));

  const client = {
    ws,
    path: p,
    opened: withTimeout(opened, timeout, `open of ${p}`),
    closed,
    get messages() {
      return inbox.messages;
    },
    get readyState() {
      return ws.readyState;
    },
    nextMessage: (t) => inbox.nextMessage(t),
    nextJson: (t) => inbox.nextJson(t),
    waitFor: (pred, t, what) => inbox.waitFor(pred, t, what),
    waitForCount: (n, t) => inbox.waitForCount(n, t),
    drain: () => inbox.drain(),
    send: (data) => ws.send(data),
    sendJson: (obj) => ws.send(JSON.stringify(obj)),
    /** Sends a JSON request and returns the next JSON message. */
    async request(obj, t) {
      ws.send(JSON.stringify(obj));
      return inbox.nextJson(t);
    },
    close(code, reason) {
      ws.close(code, reason);
      return closed;
    },
    /**
     * Sends a close frame and waits up to `grace` ms for the server's answering close frame, then
     * drops the TCP connection. partykit dev (workerd) never answers a client's close frame, so
     * waiting for the full handshake would hang until ws's own 30 s timeout.
     */
    async closeAndWait(code = 1000, reason = "", grace = CLOSE_GRACE_MS) {
      if (ws.readyState === WebSocket.CLOSED) return closed;
      if (ws.readyState !== WebSocket.CONNECTING) ws.close(code, reason);
      else ws.terminate();
      try {
        return await withTimeout(closed, grace, `close of ${p}`);
      } catch {
        ws.terminate();
        return withTimeout(closed, DEFAULT_TIMEOUT_MS, `termination of ${p}`);
      }
    },
    terminate() {
      ws.terminate();
      return closed;
    },
    closedWithin(t = DEFAULT_TIMEOUT_MS) {
      return withTimeout(closed, t, `server close of ${p}`);
    },
  };
  client.opened.catch(() => {});
  return client;
}

/** openSocket() and waits for it to open. */
export async function connect(host, target, opts) {
  const client = openSocket(host, target, opts);
  await client.opened;
  return client;
}

/** Closes every client, ignoring failures, with a deadline each. */
export async function closeAll(clients) {
  await Promise.all(clients.map((c) => c.closeAndWait().catch(() => c.terminate())));
}

// ---- PartySocket -----------------------------------------------------------------------------

/**
 * A PartySocket from the real `partysocket` package, on `ws`. Options are PartySocket's
 * (host, room, party, id, query, path, ...). Returns { socket, opened, messages, nextMessage,
 * nextJson, waitFor, close() }.
 */
export async function usePartySocket(options) {
  const { default: PartySocket } = await import("partysocket");
  const socket = new PartySocket({ WebSocket, ...options });
  const inbox = new Inbox(`partysocket ${options.room}`);
  socket.addEventListener("message", (ev) => {
    const d = ev.data;
    inbox.push(typeof d === "string" ? d : Buffer.from(d));
  });
  const opened = new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  const stop = () => socket.close();
  openClients.add(stop);
  return {
    socket,
    opened: withTimeout(opened, DEFAULT_TIMEOUT_MS, "PartySocket open"),
    get messages() {
      return inbox.messages;
    },
    nextMessage: (t) => inbox.nextMessage(t),
    nextJson: (t) => inbox.nextJson(t),
    waitFor: (pred, t, what) => inbox.waitFor(pred, t, what),
    close() {
      openClients.delete(stop);
      socket.close();
    },
  };
}

export { WebSocket };
