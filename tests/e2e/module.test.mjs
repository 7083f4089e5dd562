// Module-style servers (PARTYKIT-API.md §1c): `export default { onConnect(ws, room, ctx), ... }`,
// and a server that reads messages with ws.addEventListener inside onConnect.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { closeAll, connect, http, startServer } from "../harness.mjs";

let server;
before(async () => {
  server = await startServer("module");
});
after(async () => {
  await server?.stop();
});

describe("module-style server", { timeout: 30_000 }, () => {
  test("onConnect(ws, room, ctx) gets the room and the request", async () => {
    const c = await connect(server.host, { room: "m1", id: "x", query: { q: "1" } });
    assert.deepEqual(await c.nextJson(), {
      kind: "welcome",
      id: "x",
      room: "m1",
      party: "main",
      url: `http://${server.host}/parties/main/m1?_pk=x&q=1`,
    });
    await c.closeAndWait();
  });

  test("onMessage(msg, conn, room) and onClose(conn, room)", async () => {
    const a = await connect(server.host, { room: "m2", id: "a" });
    const b = await connect(server.host, { room: "m2", id: "b" });
    await a.nextJson();
    await b.nextJson();
    a.send("hey");
    assert.equal(await a.nextMessage(), "a@m2:hey");
    assert.equal(await b.nextMessage(), "a@m2:hey");
    a.send(Buffer.from([5, 6]));
    assert.deepEqual([...(await a.nextMessage())], [5, 6]);
    await a.closeAndWait();
    assert.equal(await b.nextMessage(), "left:a");
    await b.closeAndWait();
  });

  test("onRequest(req, room)", async () => {
    const r = await http(server.host, "/parties/main/m3/some/path?z=1", { method: "PUT", body: "x" });
    assert.equal(r.status, 200);
    assert.equal(r.text, "module main m3 PUT /parties/main/m3/some/path");
  });

  test("ws.addEventListener('message') inside onConnect receives messages", async () => {
    const c = await connect(server.host, "/parties/listener/l1");
    assert.equal(await c.nextMessage(), "listening in l1");
    c.send("one");
    c.send(Buffer.from([1]));
    c.send("three");
    assert.equal(await c.nextMessage(), "heard#1:one");
    assert.equal(await c.nextMessage(), "heard#2:binary");
    assert.equal(await c.nextMessage(), "heard#3:three");
    await c.closeAndWait();
  });

  test("a module without onRequest answers HTTP with 500 'No onRequest handler'", async () => {
    const r = await http(server.host, "/parties/listener/l2");
    assert.equal(r.status, 500);
    assert.equal(r.text, "No onRequest handler");
  });

  test("many sockets in one module-style room", async () => {
    const cs = await Promise.all(Array.from({ length: 5 }, (_, i) => connect(server.host, { room: "m4", id: `c${i}` })));
    for (const c of cs) await c.nextJson();
    cs[2].send("go");
    for (const c of cs) assert.equal(await c.nextMessage(), "c2@m4:go");
    await closeAll(cs);
  });
});
