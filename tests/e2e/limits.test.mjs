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
    // A CPU limit far away, so that the heap is what stops the allocating rooms on a busy machine.
    server = await start(["--heap-limit", "128", "--hibernate-after", "200", "--cpu-limit", "60000"]);
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

describe("per-room limits", { timeout: 60_000, skip: partydOnly }, () => {
  let server;
  test("connections per room: one past --max-room-connections is closed with 1013", async () => {
    server = await start(["--max-room-connections", "3", "--max-messages-per-second", "20",
      "--max-pending-bytes", "65536", "--max-room-storage", "10000"]);
    const three = await Promise.all([0, 1, 2].map((i) => connect(server.host, { room: "full", id: `c${i}` })));
    const fourth = openSocket(server.host, { room: "full", id: "c3" });
    const closed = await fourth.closedWithin(5000);
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /limit/);
    assert.match(server.logs(), /\[main\/full\] closed a new WebSocket with 1013/);
    // Another room is not affected, and a place that frees up can be taken.
    const other = await connect(server.host, { room: "notfull", id: "x" });
    await three[0].closeAndWait();
    await sleep(100);
    const again = await connect(server.host, { room: "full", id: "c4" });
    again.send("hi");
    assert.equal(await again.nextMessage(), "echo:hi");
    for (const c of [...three.slice(1), other, again]) await c.closeAndWait();
  });

  test("messages per second: a client past --max-messages-per-second is closed with 1008", async () => {
    const slow = await connect(server.host, { room: "rate", id: "slow" });
    for (let i = 0; i < 5; i++) {
      slow.send(`m${i}`);
      assert.equal(await slow.nextMessage(), `echo:m${i}`);
      await sleep(60);
    }
    const fast = await connect(server.host, { room: "rate", id: "fast" });
    for (let i = 0; i < 100; i++) fast.send(`m${i}`);
    const closed = await fast.closedWithin(5000);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /messages per second/);
    assert.ok(fast.messages.length <= 21, `${fast.messages.length} messages were delivered`);
    slow.send("still");
    assert.equal(await slow.nextMessage(), "echo:still");
    await slow.closeAndWait();
  });

  test("pending outgoing bytes: a client that does not read is closed with 1008", async () => {
    const reader = await connect(server.host, { room: "q", id: "reader" });
    reader.send("flood:10:1000");
    await reader.waitForCount(10);
    const stuck = await connect(server.host, { room: "q", id: "stuck" });
    stuck.ws._socket.pause(); // reads nothing: the server's queue for it grows
    stuck.send("flood:400:20000");
    await sleep(500);
    stuck.ws._socket.resume();
    const closed = await stuck.closedWithin(5000);
    assert.equal(closed.code, 1008);
    assert.match(server.logs(), /closed a WebSocket of main\/q with 1008: its client reads too slowly \(more than 65536 bytes/);
    reader.send("ok");
    assert.equal(await reader.waitFor((m) => m === "echo:ok"), "echo:ok");
    await reader.closeAndWait();
  });

  test("storage per room: a write past --max-room-storage throws a RangeError and writes nothing", async () => {
    const ok = await http(server.host, "/parties/main/st?put=a&size=6000");
    assert.equal(ok.text, "stored a");
    const over = await http(server.host, "/parties/main/st?put=b&size=6000");
    assert.equal(over.status, 507);
    assert.match(over.text, /^RangeError: Exceeded the room's storage limit/);
    assert.deepEqual((await http(server.host, "/parties/main/st?keys=1")).json(), ["a"]);
    // Overwriting in place and freeing space both count.
    assert.equal((await http(server.host, "/parties/main/st?put=a&size=9000")).text, "stored a");
    assert.equal((await http(server.host, "/parties/main/st?del=a")).text, "deleted");
    assert.equal((await http(server.host, "/parties/main/st?put=b&size=6000")).text, "stored b");
    // Another room has its own budget.
    assert.equal((await http(server.host, "/parties/main/st2?put=a&size=6000")).text, "stored a");
    assert.match(server.logs(), /\[main\/st\] refused a storage write/);
  });
});
