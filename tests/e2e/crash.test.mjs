// Durability under kill -9: clients write continuously (each write two keys in one put, then an
// ack); the server is killed with SIGKILL at a random moment, 20 times, and restarted on the same
// state directory. After each restart every acknowledged write must be there, and no write may be
// half applied (a key of a pair without the other). partykit dev is not crash-tested here: its
// workerd child outlives a SIGKILL of the node process.
import assert from "node:assert/strict";
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { IS_EXTERNAL, IS_PARTYKIT, WebSocket, http, startServer, tmpDir } from "../harness.mjs";

const ROUNDS = 20;
const ROOMS = 4;
const IN_FLIGHT = 8;

const dir = tmpDir("partyd-crash-");
let server;
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Writes to one room as fast as acks come back, with IN_FLIGHT writes outstanding.
function writer(host, room, state) {
  const ws = new WebSocket(`ws://${host}/parties/main/${room}?_pk=w`);
  let stopped = false;
  const sendNext = () => {
    if (stopped || ws.readyState !== 1) return;
    const seq = state.next++;
    ws.send(JSON.stringify({ seq }));
  };
  ws.on("open", () => {
    for (let i = 0; i < IN_FLIGHT; i++) sendNext();
  });
  ws.on("message", (data) => {
    const text = data.toString();
    if (text.startsWith("ack:")) {
      state.acked.add(Number(text.slice(4)));
      sendNext();
    }
  });
  ws.on("error", () => {});
  return () => {
    stopped = true;
    ws.terminate();
  };
}

describe("crash safety", { timeout: 300_000, skip: (IS_PARTYKIT || IS_EXTERNAL) && "partyd only" }, () => {
  test(`every acknowledged write survives ${ROUNDS} SIGKILLs, and no write is half applied`, async () => {
    server = await startServer("crash", { persist: dir });
    const rooms = Array.from({ length: ROOMS }, (_, i) => ({ name: `c${i}`, next: 0, acked: new Set() }));
    let totalAcked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const stops = rooms.map((r) => writer(server.host, r.name, r));
      await sleep(100 + Math.floor(Math.random() * 400));
      server.kill("SIGKILL");
      await server.exited;
      stops.forEach((s) => s());
      await server.restart();
      for (const r of rooms) {
        const res = await http(server.host, `/parties/main/${r.name}`);
        assert.equal(res.status, 200);
        const { a, b } = res.json();
        const as = new Set(a);
        const bs = new Set(b);
        for (const seq of r.acked) {
          assert.ok(as.has(seq) && bs.has(seq), `round ${round}, room ${r.name}: acked write ${seq} lost`);
        }
        assert.deepEqual([...as].sort((x, y) => x - y), [...bs].sort((x, y) => x - y),
                         `round ${round}, room ${r.name}: a write was half applied`);
        // Writes that were sent but never acked may or may not be there; later ones start after.
        // A loop, not Math.max(...a): a room may hold more writes than a call takes arguments.
        r.next = a.reduce((m, seq) => Math.max(m, seq), Math.max(r.next, -1)) + 1;
      }
      totalAcked = rooms.reduce((n, r) => n + r.acked.size, 0);
    }
    assert.ok(totalAcked > ROUNDS * ROOMS, `too few writes were acknowledged (${totalAcked})`);
  });
});
