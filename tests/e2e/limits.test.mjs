// One room cannot hurt another (issue 15), on one shard (--threads 1, so every room shares one
// isolate): a room that spins is stopped at the CPU limit and the others wait no longer than
// that; time a handler spends awaiting I/O is not CPU; a room that fills the JS heap is stopped,
// the process lives on and no acknowledged write is lost; a heap that stays full replaces the
// isolate and a hibernated socket still gets its messages; each per-room limit refuses with its
// code.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { IS_EXTERNAL, IS_PARTYKIT, connect, http, openSocket, startServer } from "../harness.mjs";

const partydOnly = (IS_PARTYKIT || IS_EXTERNAL) && "partyd's own limits and flags";
const CPU_LIMIT = 500;
// The watchdog checks every 10 ms; the reset and a loaded test machine take the rest.
const MARGIN = 400;

const servers = [];
async function start(args) {
  const s = await startServer("limits", { args: ["--threads", "1", ...args] });
  servers.push(s);
  return s;
}
after(async () => {
  for (const s of servers) await s.stop();
});

describe("CPU limit", { timeout: 60_000, skip: partydOnly }, () => {
  let server;
  test("a spinning room delays another room by no more than the limit, and gets 500", async () => {
    server = await start(["--cpu-limit", String(CPU_LIMIT)]);
    assert.equal((await http(server.host, "/parties/main/other")).status, 200);
    const t0 = Date.now();
    const spinning = http(server.host, "/parties/main/spinner?spin=60000", { timeout: 10_000 });
    await sleep(50); // the spin has begun
    const other = await http(server.host, "/parties/main/other", { timeout: 10_000 });
    const waited = Date.now() - t0;
    assert.equal(other.status, 200);
    assert.ok(waited < CPU_LIMIT + MARGIN, `the other room waited ${waited} ms`);
    const spun = await spinning;
    assert.equal(spun.status, 500);
    assert.match(spun.text, new RegExp(`ran longer than ${CPU_LIMIT} ms`));
    assert.match(server.logs(), /\[main\/spinner\] a handler ran longer than 500 ms and was stopped; the room is reset \(1 stopped runs/);
  });

  test("a spinning onMessage closes its room's sockets with 1011 and a reason", async () => {
    const a = await connect(server.host, { room: "ws-spin", id: "a" });
    const b = await connect(server.host, { room: "ws-spin", id: "b" });
    const t0 = Date.now();
    a.send("spin");
    await sleep(50);
    assert.equal((await http(server.host, "/parties/main/other2")).status, 200);
    assert.ok(Date.now() - t0 < CPU_LIMIT + MARGIN);
    for (const c of [a, b]) {
      const closed = await c.closedWithin(5000);
      assert.equal(closed.code, 1011);
      assert.match(closed.reason, /ran longer than 500 ms/);
    }
    const again = await connect(server.host, { room: "ws-spin", id: "c" });
    again.send("hi");
    assert.equal(await again.nextMessage(), "echo:hi");
    await again.closeAndWait();
  });

  test("time spent awaiting a timer is not CPU: a handler that sleeps past the limit answers", async () => {
    const res = await http(server.host, `/parties/main/sleeper?sleep=${CPU_LIMIT * 3}&then=${CPU_LIMIT / 2}`);
    assert.equal(res.status, 200);
    assert.equal(res.text, "slept sleeper");
  });

  test("--handler-timeout still sets the same limit", async () => {
    const old = await start(["--handler-timeout", "300"]);
    const res = await http(old.host, "/parties/main/x?spin=5000");
    assert.equal(res.status, 500);
    assert.match(res.text, /ran longer than 300 ms/);
  });
});

describe("heap limit", { timeout: 120_000, skip: partydOnly }, () => {
  let server;
  const acked = new Map(); // room -> keys whose write was answered

  async function writeSome(room, from, n) {
    for (let i = from; i < from + n; i++) {
      const r = await http(server.host, `/parties/main/${room}?put=k${i}`);
      assert.equal(r.status, 200);
      if (!acked.has(room)) acked.set(room, new Set());
      acked.get(room).add(`k${i}`);
    }
  }
  async function checkWrites() {
    for (const [room, keys] of acked) {
      const r = await http(server.host, `/parties/main/${room}?keys=1`);
      assert.equal(r.status, 200);
      const have = new Set(r.json());
      for (const k of keys) assert.ok(have.has(k), `${room}: acknowledged write ${k} lost`);
    }
  }

  test("a room that fills the heap is stopped with 500; the process and the other rooms go on", async () => {
    server = await start(["--heap-limit", "128", "--hibernate-after", "200"]);
    await writeSome("w1", 0, 20);
    await writeSome("w2", 0, 20);
    const res = await http(server.host, "/parties/main/hog?alloc=1", { timeout: 30_000 });
    assert.equal(res.status, 500);
    assert.match(res.text, /filled the JS heap/);
    assert.equal((await http(server.host, "/parties/main/w1")).status, 200);
    await writeSome("w1", 20, 5);
    await checkWrites();
    // The room itself starts afresh.
    assert.match((await http(server.host, "/parties/main/hog")).text, /^ok hog/);
    assert.doesNotMatch(server.logs(), /replaces its isolate/);
  });

  test("a socket whose room fills the heap is closed with 1011; the server goes on", async () => {
    const c = await connect(server.host, { room: "hog2", id: "a" });
    c.send("alloc");
    const closed = await c.closedWithin(30_000);
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, /filled the JS heap/);
    assert.equal((await http(server.host, "/parties/main/w2")).status, 200);
  });

  test("a heap that stays full replaces the isolate; a hibernated socket keeps its messages", async () => {
    const live = await connect(server.host, { room: "live", id: "l" });
    live.send("hi");
    assert.equal(await live.nextMessage(), "echo:hi");
    const hib = await connect(server.host, { party: "hib", room: "h", id: "sleeper" });
    hib.send("x");
    assert.equal(await hib.nextMessage(), "echo:x");
    await sleep(1000); // --hibernate-after 200: the room's object is gone, its socket stays
    // Module state that every room shares keeps the garbage: only a new isolate frees it.
    const res = await http(server.host, "/parties/main/leaker?leak=1", { timeout: 30_000 });
    assert.equal(res.status, 500);
    const closed = await live.closedWithin(10_000);
    assert.equal(closed.code, 1011);
    assert.match(server.logs(), /replaces its isolate/);
    // The hibernated socket is still open, and its room wakes on the new isolate.
    const sent = await http(server.host, "/parties/hib/h?send=after");
    assert.equal(sent.text, "1");
    assert.equal(await hib.nextMessage(), 'after:{"who":"sleeper"}');
    hib.send("y");
    assert.equal(await hib.nextMessage(), "echo:y");
    await checkWrites();
    assert.match((await http(server.host, "/parties/main/w1")).text, /^ok w1/);
    await writeSome("w2", 20, 5);
    await checkWrites();
    await hib.closeAndWait();
  });
});
