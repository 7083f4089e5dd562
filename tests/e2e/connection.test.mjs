// Party.Connection and Party.Room (PARTYKIT-API.md §2, §3, §10.4-5): ids, uri, state,
// attachments, tags, lookups, send() of each payload kind, broadcast, env.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { closeAll, connect, http, openSocket, startServer } from "../harness.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer("connection");
});
after(async () => {
  await server?.stop();
});

async function join(target, opts) {
  const c = await connect(server.host, target, opts);
  const welcome = await c.nextJson();
  assert.equal(welcome.op, "welcome");
  c.welcome = welcome.result;
  return c;
}

async function ask(c, cmd) {
  const reply = await c.request(cmd);
  assert.equal(reply.op, cmd.op, JSON.stringify(reply));
  return reply.result;
}

describe("connection", { timeout: 30_000 }, () => {
  test("the id comes from _pk; uri and ctx.request.url are the full http URL with query", async () => {
    const c = await join({ room: "ids", id: "alice", query: { tag: "red", x: "1" } });
    const w = c.welcome;
    assert.equal(w.id, "alice");
    const expected = `http://${server.host}/parties/main/ids?_pk=alice&tag=red&x=1`;
    assert.equal(w.uri, expected);
    assert.equal(w.requestUrl, expected);
    assert.equal(w.requestMethod, "GET");
    assert.equal(w.roomId, "ids");
    assert.deepEqual(w.ctxKeys, ["request"]);
    assert.equal(w.spreadUrl, expected);
    assert.equal(w.requestSettable, true);
    await c.closeAndWait();
  });

  test("without _pk the id is a random UUID", async () => {
    const a = await join({ room: "ids2" });
    const b = await join({ room: "ids2" });
    assert.match(a.welcome.id, UUID_RE);
    assert.match(b.welcome.id, UUID_RE);
    assert.notEqual(a.welcome.id, b.welcome.id);
    assert.equal(a.welcome.uri, `http://${server.host}/parties/main/ids2`);
    await closeAll([a, b]);
  });

  test("in onConnect: readyState is OPEN (1), state is null, request headers are visible", async () => {
    const c = await join({ room: "hdr", id: "h" }, { headers: { "x-test": "header-value" } });
    assert.equal(c.welcome.readyState, 1);
    assert.equal(c.welcome.openConstant, 1, "WebSocket.OPEN is defined in party code");
    assert.equal(c.welcome.state, null);
    assert.equal(c.welcome.header, "header-value");
    assert.equal(c.welcome.upgrade?.toLowerCase(), "websocket");
    assert.equal(c.welcome.sameSocket, true, "conn.socket is the connection itself");
    await c.closeAndWait();
  });

  test("setState takes a value or an updater, returns the new state, and keeps it", async () => {
    const c = await join({ room: "state", id: "s" });
    assert.deepEqual(await ask(c, { op: "setState", value: { name: "ann", n: 1 } }), { name: "ann", n: 1 });
    assert.deepEqual(await ask(c, { op: "state" }), { name: "ann", n: 1 });
    assert.deepEqual(await ask(c, { op: "increment" }), { count: 1 });
    assert.deepEqual(await ask(c, { op: "increment" }), { count: 2 });
    assert.deepEqual(await ask(c, { op: "state" }), { count: 2 });
    assert.equal(await ask(c, { op: "setState", value: null }), null);
    assert.deepEqual(await ask(c, { op: "increment" }), { count: 1 });
    await c.closeAndWait();
  });

  test("state is per connection", async () => {
    const a = await join({ room: "state2", id: "a" });
    const b = await join({ room: "state2", id: "b" });
    await ask(a, { op: "setState", value: "mine" });
    assert.equal(await ask(b, { op: "state" }), null);
    assert.equal(await ask(a, { op: "state" }), "mine");
    await closeAll([a, b]);
  });

  test("serializeAttachment / deserializeAttachment round-trip", async () => {
    const c = await join({ room: "attach" });
    assert.equal(await ask(c, { op: "detach" }), null);
    await ask(c, { op: "attach", value: { user: "u1", roles: ["a", "b"] } });
    assert.deepEqual(await ask(c, { op: "detach" }), { user: "u1", roles: ["a", "b"] });
    await c.closeAndWait();
  });

  test("getConnectionTags feeds getConnections(tag); the id is an implicit tag", async () => {
    const alice = await join({ room: "tags", id: "alice", query: { tag: "red" } });
    const bob = await join({ room: "tags", id: "bob", query: { tag: "blue" } });
    const carol = await join({ room: "tags", id: "carol", query: { tag: ["red", "green"] } });
    assert.deepEqual(await ask(bob, { op: "tagged", tag: "red" }), ["alice", "carol"]);
    assert.deepEqual(await ask(bob, { op: "tagged", tag: "green" }), ["carol"]);
    assert.deepEqual(await ask(alice, { op: "tagged", tag: "bob" }), ["bob"]);
    assert.deepEqual(await ask(alice, { op: "tagged", tag: "nobody" }), []);
    assert.deepEqual(await ask(alice, { op: "all" }), ["alice", "bob", "carol"]);
    await closeAll([alice, bob, carol]);
  });

  test("getConnectionTags may answer with a promise; its tags count once it settles", async () => {
    const late = await join({ room: "tags-async", id: "late", query: { tag: "red", tags: "async" } });
    const plain = await join({ room: "tags-async", id: "plain", query: { tag: "red" } });
    assert.deepEqual(await ask(plain, { op: "tagged", tag: "red" }), ["late", "plain"]);
    assert.deepEqual(await ask(plain, { op: "tagged", tag: "late" }), ["late"]);
    await closeAll([late, plain]);
  });

  for (const [how, query, reason] of [
    ["getConnectionTags throwing", { tags: "throw" }, "tags failed here"],
    ["getConnectionTags rejecting", { tags: "reject" }, "tags rejected here"],
    ["onConnect throwing synchronously", { throw: "1" }, "connect threw here"],
  ]) {
    test(`${how}: the socket closes with 1011 and the message; the room goes on`, async () => {
      const c = openSocket(server.host, { room: "refused", query });
      await c.opened;
      assert.deepEqual(await c.closedWithin(5000), { code: 1011, reason });
      assert.equal(c.messages.length, 0);
      // (On partykit dev a socket whose onConnect threw may stay listed for a moment.)
      const other = await join({ room: "refused", id: `after-${query.tags ?? "connect"}` });
      assert.ok((await ask(other, { op: "all" })).includes(other.welcome.id));
      await other.closeAndWait();
    });
  }

  test("getConnection(id) and the deprecated room.connections Map", async () => {
    const a = await join({ room: "lookup", id: "a" });
    const b = await join({ room: "lookup", id: "b", query: { k: "v" } });
    assert.deepEqual(await ask(a, { op: "get", id: "b" }), {
      id: "b",
      uri: `http://${server.host}/parties/main/lookup?_pk=b&k=v`,
      readyState: 1,
    });
    assert.equal(await ask(a, { op: "get", id: "zzz" }), null);
    assert.deepEqual(await ask(a, { op: "mapSize" }), { isMap: true, size: 2, keys: ["a", "b"] });
    await closeAll([a, b]);
  });

  test("send() of a string, an ArrayBuffer, a Uint8Array view and a DataView", async () => {
    const c = await join({ room: "kinds" });
    c.sendJson({ op: "sendKinds" });
    assert.equal(await c.nextMessage(), "a string");
    const ab = await c.nextMessage();
    assert.ok(Buffer.isBuffer(ab));
    assert.deepEqual([...ab], [1, 2, 3]);
    const view = await c.nextMessage();
    assert.ok(Buffer.isBuffer(view));
    assert.deepEqual([...view], [4, 5, 6], "only the bytes of the view are sent");
    const dv = await c.nextMessage();
    assert.deepEqual([...dv], [8, 9]);
    assert.deepEqual(await c.nextJson(), { op: "sendKinds", result: "done" });
    await c.closeAndWait();
  });

  test("two sockets with the same _pk: the map keeps one entry per id", async () => {
    const a1 = await join({ room: "dup", id: "same" });
    const a2 = await join({ room: "dup", id: "same" });
    const other = await join({ room: "dup", id: "other" });
    assert.deepEqual(await ask(other, { op: "all" }), ["other", "same"]);
    await closeAll([a1, a2, other]);
  });
});

describe("room", { timeout: 30_000 }, () => {
  test("broadcast reaches every connection, the sender included", async () => {
    const cs = await Promise.all(["a", "b", "c"].map((id) => join({ room: "bc", id })));
    cs[0].sendJson({ op: "broadcast", text: "hi" });
    for (const c of cs) assert.equal(await c.nextMessage(), "bc:hi");
    await closeAll(cs);
  });

  test("broadcast with `without` skips those ids", async () => {
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((id) => join({ room: "bcw", id })));
    a.sendJson({ op: "broadcastWithout", text: "not-a" });
    assert.equal(await b.nextMessage(), "bc:not-a");
    assert.equal(await c.nextMessage(), "bc:not-a");
    a.sendJson({ op: "broadcastWithout", text: "only-b", without: ["a", "c"] });
    assert.equal(await b.nextMessage(), "bc:only-b");
    // The next thing a and c receive is the answer to this, not a broadcast.
    assert.deepEqual(await ask(a, { op: "state" }), null);
    assert.deepEqual(await ask(c, { op: "state" }), null);
    await closeAll([a, b, c]);
  });

  test("broadcast of binary data", async () => {
    const [a, b] = await Promise.all(["a", "b"].map((id) => join({ room: "bcb", id })));
    a.sendJson({ op: "broadcastBinary", bytes: [0, 255, 7] });
    for (const c of [a, b]) assert.deepEqual([...(await c.nextMessage())], [0, 255, 7]);
    await closeAll([a, b]);
  });

  test("broadcast from onRequest reaches sockets; with none it is a no-op", async () => {
    const empty = await http(server.host, "/parties/main/bc-none?broadcast=x");
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json().connections, []);
    const c = await join({ room: "bc-http", id: "z" });
    const r = await http(server.host, "/parties/main/bc-http?broadcast=from-http");
    assert.deepEqual(r.json().connections, ["z"]);
    assert.equal(await c.nextMessage(), "bc:from-http");
    await c.closeAndWait();
  });

  test("room.env holds the vars of partykit.json, object values included", async () => {
    const r = (await http(server.host, "/parties/main/env")).json();
    assert.equal(r.id, "env");
    assert.equal(r.name, "main");
    assert.deepEqual(r.env, {
      GREETING: "hello",
      NUMBER: 42,
      CONFIG: { nested: { list: [1, "two", true] }, flag: false },
    });
  });
});
