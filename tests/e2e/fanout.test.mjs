// Fan-out: 50 clients in one room each send one message that the server broadcasts; every
// client must receive all 50 broadcasts, exactly once each.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { closeAll, connect, startServer } from "../harness.mjs";

const N = 50;

let server;
before(async () => {
  server = await startServer("connection");
});
after(async () => {
  await server?.stop();
});

describe("fan-out", { timeout: 60_000 }, () => {
  test(`${N} clients in one room each receive all ${N}x${N} broadcasts`, async () => {
    const clients = await Promise.all(
      Array.from({ length: N }, (_, i) => connect(server.host, { room: "fanout", id: `c${i}`, query: { quiet: "1" } })),
    );
    clients.forEach((c, i) => c.sendJson({ op: "broadcast", text: `from-c${i}` }));
    const expected = Array.from({ length: N }, (_, i) => `bc:from-c${i}`).sort();
    await Promise.all(clients.map((c) => c.waitForCount(N, 20_000)));
    for (const [i, c] of clients.entries()) {
      assert.deepEqual([...c.messages].sort(), expected, `client c${i}`);
    }
    // Nothing beyond the N broadcasts arrives: ask one more question and check it is next.
    clients[0].drain();
    const r = await clients[0].request({ op: "all" });
    assert.equal(r.result.length, N);
    assert.equal(clients[0].messages.length, N + 1);
    await closeAll(clients);
  });

  test("each sender's broadcasts reach every client in the order they were sent", async () => {
    const clients = await Promise.all(
      Array.from({ length: 10 }, (_, i) => connect(server.host, { room: "fanout-order", id: `c${i}`, query: { quiet: "1" } })),
    );
    for (let k = 0; k < 20; k++) {
      for (const [i, c] of clients.entries()) c.sendJson({ op: "broadcast", text: `c${i}-${k}` });
    }
    await Promise.all(clients.map((c) => c.waitForCount(200, 20_000)));
    for (const c of clients) {
      assert.equal(c.messages.length, 200);
      for (let i = 0; i < 10; i++) {
        const mine = c.messages.filter((m) => m.startsWith(`bc:c${i}-`));
        assert.deepEqual(mine, Array.from({ length: 20 }, (_, k) => `bc:c${i}-${k}`));
      }
    }
    await closeAll(clients);
  });
});
