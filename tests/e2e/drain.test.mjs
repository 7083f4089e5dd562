// partyd serve's stop (SIGTERM, SIGINT): it stops accepting, lets a request in flight finish,
// closes open WebSockets with 1001 (Going Away), commits storage and exits 0 within
// --drain-timeout; past the timeout it closes what is left; a second SIGTERM stops at once. And
// systemd's readiness protocol: READY=1 once it serves, STOPPING=1 when the drain starts, sent to
// the datagram socket in $NOTIFY_SOCKET (a python3 listener here: node has no Unix datagrams).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { freePort, notifyListener, tmpDir, waitUntil, WebSocket, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const dir = tmpDir("partyd-drain-");

function writeProject() {
  const project = path.join(dir, "project");
  fs.mkdirSync(path.join(project, "src"), { recursive: true });
  fs.writeFileSync(path.join(project, "partykit.json"),
    JSON.stringify({ name: "drainapp", main: "src/server.js", compatibilityDate: "2024-01-01" }));
  fs.writeFileSync(path.join(project, "src", "server.js"), `
export default class Server {
  constructor(room) { this.room = room; }
  onConnect(conn) { conn.send("hi"); }
  async onMessage(msg, sender) {
    await this.room.storage.put("msg", String(msg));
    sender.send("stored:" + msg);
  }
  async onRequest(req) {
    const url = new URL(req.url);
    const wait = Number(url.searchParams.get("wait") ?? 0);
    if (wait) await new Promise((r) => setTimeout(r, wait));
    if (url.searchParams.has("put")) await this.room.storage.put("v", url.searchParams.get("put"));
    return Response.json({ v: (await this.room.storage.get("v")) ?? null,
                           msg: (await this.room.storage.get("msg")) ?? null, waited: wait });
  }
}
`);
  return project;
}

const project = writeProject();

async function startServe({ data, drainTimeout, env = {} }) {
  const port = await freePort();
  const args = ["serve", "--address", "127.0.0.1", "--port", String(port), "--threads", "2",
    "--data", data, project];
  if (drainTimeout !== undefined) args.splice(1, 0, "--drain-timeout", String(drainTimeout));
  const proc = spawn(PARTYD, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal, at: Date.now() })));
  const s = { proc, port, exited, get out() { return out; } };
  await waitUntil(() => out.includes("Ready on") || proc.exitCode !== null,
    { timeout: 20_000, what: `ready:\n${out}` });
  assert.match(out, /Ready on/);
  return s;
}

function open(port, room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/parties/main/${room}`);
    const closed = new Promise((r) => ws.once("close", (code, reason) => r({ code, reason: String(reason), at: Date.now() })));
    ws.once("message", () => resolve({ ws, closed }));
    ws.once("error", reject);
  });
}

async function get(port, p) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.json() };
}

describe("SIGTERM drain", () => {
  test("open WebSockets get 1001, a request in flight completes, storage survives, exit 0", async () => {
    const data = path.join(dir, "data1");
    let s = await startServe({ data, drainTimeout: 5 });
    const a = await open(s.port, "room-a");
    const b = await open(s.port, "room-b");
    const stored = new Promise((r) => a.ws.once("message", (m) => r(String(m))));
    a.ws.send("from-ws");
    assert.equal(await stored, "stored:from-ws");
    assert.equal((await get(s.port, "/parties/main/room-c?put=before")).body.v, "before");

    // A request that is still running when SIGTERM comes; it also writes.
    const inFlight = get(s.port, "/parties/main/room-b?wait=1200&put=during");
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    s.proc.kill("SIGTERM");

    const done = await inFlight;
    assert.equal(done.status, 200);
    assert.equal(done.body.v, "during");
    assert.equal(done.body.waited, 1200);
    const ca = await a.closed;
    const cb = await b.closed;
    assert.equal(ca.code, 1001);
    assert.equal(cb.code, 1001);
    assert.match(ca.reason, /going away/);
    // room-b's socket closed only after its request finished.
    assert.ok(cb.at >= t0 + 800, `room-b closed ${cb.at - t0} ms after SIGTERM`);
    const exit = await s.exited;
    assert.equal(exit.code, 0, s.out);
    assert.ok(exit.at - t0 < 5000, `exited ${exit.at - t0} ms after SIGTERM`);

    // New connections are refused once it stops listening (it has exited here).
    await assert.rejects(fetch(`http://127.0.0.1:${s.port}/`));

    s = await startServe({ data });
    assert.equal((await get(s.port, "/parties/main/room-c")).body.v, "before");
    assert.equal((await get(s.port, "/parties/main/room-b")).body.v, "during");
    assert.equal((await get(s.port, "/parties/main/room-a")).body.msg, "from-ws");
    s.proc.kill("SIGINT");
    assert.equal((await s.exited).code, 0);
  });

  test("past --drain-timeout what is left is closed and it exits 0", async () => {
    const data = path.join(dir, "data2");
    const s = await startServe({ data, drainTimeout: 1 });
    const a = await open(s.port, "busy");
    const slow = fetch(`http://127.0.0.1:${s.port}/parties/main/busy?wait=8000`).then(
      (r) => r.status, () => "closed");
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    s.proc.kill("SIGTERM");
    const exit = await s.exited;
    assert.equal(exit.code, 0, s.out);
    assert.ok(exit.at - t0 < 2500, `exited ${exit.at - t0} ms after SIGTERM`);
    assert.equal((await a.closed).code, 1001);
    assert.ok([503, "closed"].includes(await slow));
    assert.match(s.out, /drain timeout/);
  });

  test("a second SIGTERM stops at once, and what was stored is kept", async () => {
    const data = path.join(dir, "data3");
    let s = await startServe({ data, drainTimeout: 30 });
    assert.equal((await get(s.port, "/parties/main/x?put=kept")).body.v, "kept");
    const slow = fetch(`http://127.0.0.1:${s.port}/parties/main/y?wait=20000`).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    s.proc.kill("SIGTERM");
    await waitUntil(() => s.out.includes("draining"), { what: "the drain to start" });
    s.proc.kill("SIGTERM");
    const exit = await s.exited;
    assert.equal(exit.code, 0, s.out);
    assert.ok(exit.at - t0 < 3000, `exited ${exit.at - t0} ms after the first SIGTERM`);
    assert.match(s.out, /second stop signal/);
    await slow;
    s = await startServe({ data });
    assert.equal((await get(s.port, "/parties/main/x")).body.v, "kept");
    s.proc.kill("SIGTERM");
    assert.equal((await s.exited).code, 0);
  });
});

describe("sd_notify", () => {
  test("READY=1 once serving, STOPPING=1 at SIGTERM, over $NOTIFY_SOCKET", async () => {
    const sock = path.join(dir, "notify.sock");
    const notify = await notifyListener(sock);
    try {
      const s = await startServe({ data: path.join(dir, "data4"), env: { NOTIFY_SOCKET: sock } });
      await waitUntil(() => notify.text().includes("READY=1"), { what: `READY=1 (got: ${notify.text()})` });
      assert.doesNotMatch(notify.text(), /STOPPING=1/);
      // Ready means serving.
      assert.equal((await get(s.port, "/parties/main/n")).status, 200);
      s.proc.kill("SIGTERM");
      await waitUntil(() => notify.text().includes("STOPPING=1"), { what: `STOPPING=1 (got: ${notify.text()})` });
      assert.equal((await s.exited).code, 0);
      assert.ok(notify.text().indexOf("READY=1") < notify.text().indexOf("STOPPING=1"));
    } finally {
      notify.stop();
    }
  });

  test("an abstract socket name (@...) works too", async () => {
    const name = `@partyd-notify-${process.pid}`;
    const notify = await notifyListener(name);
    try {
      const s = await startServe({ data: path.join(dir, "data5"), env: { NOTIFY_SOCKET: name } });
      await waitUntil(() => notify.text().includes("READY=1"), { what: "READY=1" });
      s.proc.kill("SIGTERM");
      assert.equal((await s.exited).code, 0);
    } finally {
      notify.stop();
    }
  });
});

