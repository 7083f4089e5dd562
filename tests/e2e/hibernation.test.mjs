// Hibernation: a room with `options = { hibernate: true }` may drop its object between events
// while its WebSockets stay open. Ids, state, tags and the 2 KB attachment limit behave the same
// before and after. `partykit dev` never hibernates, so the wake itself (onStart running again)
// is checked on partyd only, which is started with a short --hibernate-after.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { IS_PARTYKIT, closeAll, connect, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer("hibernation", { args: IS_PARTYKIT ? [] : ["--hibernate-after", "150"] });
});
after(async () => {
  await server?.stop();
});

describe("hibernation", { timeout: 60_000 }, () => {
  test("state, ids and tags survive while the room object is dropped and rebuilt", async () => {
    const a = await connect(server.host, { room: "h1", id: "alice", query: { name: "a", team: "red" } });
    const b = await connect(server.host, { room: "h1", id: "bob", query: { name: "b" } });
    const welcomeA = await a.nextJson();
    await b.nextJson();
    assert.equal(welcomeA.op, "welcome");

    a.send("inc");
    const first = await a.nextJson();
    assert.deepEqual(first.state, { name: "a", n: 1 });
    assert.deepEqual(first.ids, ["alice", "bob"]);
    assert.deepEqual(first.red, ["alice"]);

    // Quiet for longer than --hibernate-after: partyd drops the room object.
    await sleep(700);
    a.send("inc");
    const second = await a.nextJson();
    assert.deepEqual(second.state, { name: "a", n: 2 });
    assert.deepEqual(second.ids, ["alice", "bob"]);
    assert.deepEqual(second.red, ["alice"]);
    if (!IS_PARTYKIT) assert.ok(second.starts > first.starts, "onStart ran again on wake");

    // A broadcast from the woken room reaches the socket that never woke it.
    b.send("broadcast");
    const bc = await a.nextJson();
    assert.deepEqual(bc, { op: "bc", from: "bob" });
    await closeAll([a, b]);
  });

  test("setState past the 2 KB attachment limit throws workerd's error", async () => {
    const a = await connect(server.host, { room: "h2", id: "big" });
    await a.nextJson();
    a.send("big");
    const r = await a.nextJson();
    assert.match(r.error ?? "", /^A WebSocket 'attachment' cannot be larger than 2048 bytes\.'attachment' was \d+ bytes\.$/);
    await closeAll([a]);
  });
});
