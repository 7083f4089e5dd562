// A binary upgrade of partyd serve under load (docs/deploying.md, "Upgrading partyd"): SIGUSR2
// starts the binary again with --takeover; the new process takes the listening sockets over the
// upgrade socket, loads the project, and the old one drains (WebSockets close with 1012, a
// request in flight finishes), closes storage and exits; the new one then opens storage. While
// that happens: no connection is refused, no HTTP request fails, plain and hibernated sockets
// reconnect, and what was stored before is read after. Also: --takeover with nobody to take
// over from, and with --cluster, is refused with a clear message.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, describe, test } from "node:test";
import { freePort, notifyListener, tmpDir, waitUntil, WebSocket, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const dir = tmpDir("partyd-upgrade-");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function writeProject() {
  const project = path.join(dir, "project");
  fs.mkdirSync(path.join(project, "src"), { recursive: true });
  fs.writeFileSync(path.join(project, "partykit.json"), JSON.stringify({
    name: "upgradeapp", main: "src/server.js", compatibilityDate: "2024-01-01",
    parties: { hib: "src/hib.js" },
  }));
  fs.writeFileSync(path.join(project, "src", "server.js"), `
export default class Server {
  constructor(room) { this.room = room; }
  onConnect(conn) { conn.send("hi"); }
  async onAlarm() { await this.room.storage.put("alarm", "fired"); }
  async onRequest(req) {
    const url = new URL(req.url);
    if (url.searchParams.has("alarm")) {
      await this.room.storage.setAlarm(Date.now() + Number(url.searchParams.get("alarm")));
    }
    if (url.searchParams.has("fired")) return Response.json({ alarm: (await this.room.storage.get("alarm")) ?? null });
    const wait = Number(url.searchParams.get("wait") ?? 0);
    if (wait) await new Promise((r) => setTimeout(r, wait));
    if (url.searchParams.has("put")) await this.room.storage.put("v", url.searchParams.get("put"));
    return Response.json({ v: (await this.room.storage.get("v")) ?? null });
  }
}
`);
  fs.writeFileSync(path.join(project, "src", "hib.js"), `
export default class Hib {
  static options = { hibernate: true };
  constructor(room) { this.room = room; }
  onConnect(conn) { conn.send("hib"); }
  onMessage(m, conn) { conn.send("echo:" + m); }
}
`);
  return project;
}

const project = writeProject();
const pids = new Set();
after(() => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startServe(data, extra = [], env = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const args = ["serve", "--address", "127.0.0.1", "--port", String(port), "--threads", "2",
    "--admin", `127.0.0.1:${adminPort}`, "--data", data, "--drain-timeout", "5", ...extra, project];
  const proc = spawn(PARTYD, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  pids.add(proc.pid);
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r({ code, signal, at: Date.now() })));
  const s = { proc, port, adminPort, exited, get out() { return out; } };
  await waitUntil(() => out.includes("Ready on") || proc.exitCode !== null,
    { timeout: 20_000, what: `ready:\n${out}` });
  assert.match(out, /Ready on/);
  return s;
}

// A WebSocket that reconnects after a 1012 (as partysocket does) and counts its greetings.
function reconnecting(port, urlPath, greeting) {
  const c = { closes: [], greetings: 0, errors: 0, ws: null, stopped: false };
  const open = () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`);
    c.ws = ws;
    ws.on("message", (m) => {
      if (String(m) === greeting) c.greetings++;
    });
    ws.on("error", () => c.errors++);
    ws.on("close", (code) => {
      c.closes.push(code);
      if (!c.stopped) setTimeout(open, 10);
    });
  };
  open();
  c.stop = () => {
    c.stopped = true;
    c.ws.close();
  };
  return c;
}

// HTTP in a closed loop over keep-alive connections; failures and the longest gap between answers.
function httpLoop(port, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const st = { ok: 0, failed: 0, errors: [], lastAt: Date.now(), maxGap: 0, running: true };
  const one = (p) => new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.setTimeout(20_000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve(e.code ?? e.message));
  });
  st.done = Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; st.running; i++) {
      const status = await one(`/parties/main/web${(w + i) % 8}`);
      const now = Date.now();
      if (status === 200) {
        st.maxGap = Math.max(st.maxGap, now - st.lastAt);
        st.lastAt = now;
        st.ok++;
      } else {
        st.failed++;
        if (st.errors.length < 5) st.errors.push(String(status));
      }
    }
  })).then(() => agent.destroy());
  return st;
}

// New TCP connections every few ms: counts the refused ones.
function connectLoop(port) {
  const st = { ok: 0, refused: 0, running: true };
  st.done = (async () => {
    while (st.running) {
      await new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
          st.ok++;
          s.destroy();
          resolve();
        });
        s.once("error", (e) => {
          if (e.code === "ECONNREFUSED") st.refused++;
          resolve();
        });
      });
      await sleep(5);
    }
  })();
  return st;
}

async function get(port, p) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.json() };
}

describe("binary upgrade (SIGUSR2 → --takeover)", () => {
  test("no refused connection, no failed request, sockets 1012 and back, storage kept", async () => {
    const data = path.join(dir, "data1");
    const s = await startServe(data);
    const oldPid = s.proc.pid;
    assert.equal((await get(s.port, "/parties/main/store?put=before")).body.v, "before");
    assert.ok(fs.existsSync(path.join(data, "partyd.sock")), "the upgrade socket exists");

    const plain = [0, 1, 2].map((i) => reconnecting(s.port, `/parties/main/p${i}`, "hi"));
    const hib = [0, 1].map((i) => reconnecting(s.port, `/parties/hib/h${i}`, "hib"));
    await waitUntil(() => [...plain, ...hib].every((c) => c.greetings === 1), { what: "greetings" });
    const loop = httpLoop(s.port, 8);
    const conns = connectLoop(s.port);
    await sleep(500);

    // A request in flight when the upgrade starts; it writes, and must finish.
    const inFlight = get(s.port, "/parties/main/during?wait=800&put=during");
    await sleep(100);
    const t0 = Date.now();
    s.proc.kill("SIGUSR2");
    const started = await waitUntil(() => s.out.match(/SIGUSR2: started pid (\d+)/),
      { what: `the new process:\n${s.out}` });
    const newPid = Number(started[1]);
    pids.add(newPid);

    const done = await inFlight;
    assert.equal(done.status, 200);
    assert.equal(done.body.v, "during");
    const exit = await s.exited;
    assert.equal(exit.code, 0, s.out);
    assert.ok(!alive(oldPid), "the old process is gone");
    assert.ok(alive(newPid), `the new process serves:\n${s.out}`);
    await waitUntil(() => s.out.split("Ready on").length === 3, { what: `the new one ready:\n${s.out}` });
    // Every socket got 1012 and reconnected to the new process.
    await waitUntil(() => [...plain, ...hib].every((c) => c.greetings === 2),
      { timeout: 10_000, what: `reconnections: ${JSON.stringify([...plain, ...hib].map((c) => [c.closes, c.greetings]))}` });
    await sleep(500);
    loop.running = false;
    conns.running = false;
    await Promise.all([loop.done, conns.done]);
    const upgradeMs = exit.at - t0;

    for (const c of [...plain, ...hib]) assert.deepEqual(c.closes, [1012]);
    assert.equal(conns.refused, 0, "refused connections");
    assert.equal(loop.failed, 0, `failed HTTP requests: ${loop.errors}`);
    assert.ok(loop.ok > 50, `HTTP answers: ${loop.ok}`);
    console.log(`upgrade: old exited after ${upgradeMs} ms; HTTP ok ${loop.ok}, failed ${loop.failed}, ` +
      `longest gap ${loop.maxGap} ms; connects ${conns.ok}, refused ${conns.refused}`);

    // Storage written before (and during) is read by the new process; the admin port moved too.
    assert.equal((await get(s.port, "/parties/main/store")).body.v, "before");
    assert.equal((await get(s.port, "/parties/main/during")).body.v, "during");
    const metrics = await fetch(`http://127.0.0.1:${s.adminPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(s.out, /takeover: got 2 public and 1 admin listeners/);

    // A second upgrade, of the new process, works the same way.
    process.kill(newPid, "SIGUSR2");
    await waitUntil(() => !alive(newPid) && s.out.split("Ready on").length === 4,
      { timeout: 15_000, what: `the second upgrade:\n${s.out}` });
    const third = Number(s.out.match(/SIGUSR2: started pid (\d+)/g).at(-1).split(" ").at(-1));
    pids.add(third);
    await waitUntil(() => [...plain, ...hib].every((c) => c.greetings === 3), { timeout: 10_000, what: "third greetings" });
    assert.equal((await get(s.port, "/parties/main/store")).body.v, "before");
    for (const c of [...plain, ...hib]) c.stop();
    process.kill(third, "SIGTERM");
    await waitUntil(() => !alive(third), { timeout: 10_000, what: "the last process to stop" });
  });

  test("a stored alarm fires in the new process; systemd hears MAINPID= and READY=1, no STOPPING=1", async () => {
    const data = path.join(dir, "data4");
    const sock = path.join(dir, "notify.sock");
    const notify = await notifyListener(sock);
    try {
      const s = await startServe(data, [], { NOTIFY_SOCKET: sock });
      await waitUntil(() => notify.text().includes("READY=1"), { what: `READY=1 (got: ${notify.text()})` });
      // Due after the upgrade is over (it takes a few seconds here: the new process builds too).
      assert.equal((await get(s.port, "/parties/main/al?alarm=7000")).status, 200);
      s.proc.kill("SIGUSR2");
      const newPid = Number((await waitUntil(() => s.out.match(/SIGUSR2: started pid (\d+)/),
        { what: "the new process" }))[1]);
      pids.add(newPid);
      assert.equal((await s.exited).code, 0, s.out);
      await waitUntil(() => notify.text().includes(`MAINPID=${newPid}`) && notify.text().split("READY=1").length === 3,
        { timeout: 10_000, what: `MAINPID and READY from the new process (got: ${notify.text()})` });
      assert.doesNotMatch(notify.text(), /STOPPING=1/);
      assert.equal((await get(s.port, "/parties/main/al?fired")).body.alarm, null);
      await waitUntil(async () => (await get(s.port, "/parties/main/al?fired")).body.alarm === "fired",
        { timeout: 15_000, what: `the alarm to fire in pid ${newPid}:\n${s.out}` });
      process.kill(newPid, "SIGTERM");
      await waitUntil(() => !alive(newPid), { timeout: 10_000, what: "the new process to stop" });
      assert.match(notify.text(), /STOPPING=1/);
    } finally {
      notify.stop();
    }
  });

  test("a takeover that dies before DRAIN leaves the old process serving", async () => {
    const data = path.join(dir, "data2");
    const s = await startServe(data);
    // Connect, take the listeners, and leave: what a new binary that fails to load does.
    const sock = net.connect(path.join(data, "partyd.sock"));
    await new Promise((r) => sock.once("connect", r));
    sock.write("TAKEOVER 1\n");
    await new Promise((r) => sock.once("data", r));
    sock.destroy();
    await waitUntil(() => /abandoned/.test(s.out), { what: `the abandon:\n${s.out}` });
    assert.equal((await get(s.port, "/parties/main/x?put=still")).body.v, "still");
    // Garbage on the socket does no harm either.
    const bad = net.connect(path.join(data, "partyd.sock"));
    await new Promise((r) => bad.once("connect", r));
    bad.write("\x00\xffnot a takeover\n");
    await sleep(100);
    bad.destroy();
    assert.equal((await get(s.port, "/parties/main/x")).body.v, "still");
    s.proc.kill("SIGTERM");
    assert.equal((await s.exited).code, 0);
    assert.ok(!fs.existsSync(path.join(data, "partyd.sock")), "the socket file is removed at exit");
  });

  test("--takeover with no running partyd, and with --cluster, is refused", () => {
    const data = path.join(dir, "data3");
    fs.mkdirSync(data, { recursive: true });
    const none = spawnSync(PARTYD, ["serve", "--takeover", "--data", data, "--port", "0"], { encoding: "utf8" });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--takeover: cannot connect to .*partyd\.sock/);
    const cluster = spawnSync(PARTYD, ["serve", "--takeover", "--cluster", "etcd=http://127.0.0.1:1",
      "--storage", "postgres://x", "--advertise", "127.0.0.1:1"], { encoding: "utf8" });
    assert.equal(cluster.status, 2);
    assert.match(cluster.stderr, /--takeover does not work with --cluster/);
  });
});
