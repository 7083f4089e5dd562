// URL routing (PARTYKIT-API.md §5a, §10.1-3): which URLs reach which party and room instance.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import nodeHttp from "node:http";
import { IS_EXTERNAL, IS_PARTYKIT, connect, http, openSocket, startServer } from "../harness.mjs";

let server;
before(async () => {
  server = await startServer("routing");
});
after(async () => {
  await server?.stop();
});

describe("routing", { timeout: 30_000 }, () => {
  test("/party/<room> and /parties/main/<room> reach the same instance", async () => {
    const a = (await http(server.host, "/party/r1")).json();
    const b = (await http(server.host, "/parties/main/r1")).json();
    assert.equal(a.party, "main");
    assert.equal(a.id, "r1");
    assert.equal(b.id, "r1");
    assert.equal(a.internalID, b.internalID);
    assert.equal(a.starts, 1);
    assert.equal(b.starts, 1, "onStart ran once for both URLs");
  });

  test("a WebSocket on /party/<room> reaches the instance that HTTP started", async () => {
    const h = (await http(server.host, "/parties/main/r2")).json();
    const c = await connect(server.host, "/party/r2");
    const w = await c.nextJson();
    assert.equal(w.internalID, h.internalID);
    assert.equal(w.starts, 1);
    assert.equal(w.id, "r2");
    await c.closeAndWait();
  });

  test("room.internalID is 64 hex chars, stable, and differs per room", async () => {
    const a1 = (await http(server.host, "/parties/main/stable")).json();
    const a2 = (await http(server.host, "/parties/main/stable?x=1")).json();
    const b = (await http(server.host, "/parties/main/stable2")).json();
    assert.match(a1.internalID, /^[0-9a-f]{64}$/);
    assert.equal(a1.internalID, a2.internalID);
    assert.notEqual(a1.internalID, b.internalID);
  });

  test("the room id is the raw path segment, not percent-decoded", async () => {
    const r = (await http(server.host, "/party/a%20b")).json();
    assert.equal(r.id, "a%20b");
    const r2 = (await http(server.host, "/parties/main/a%20b/sub")).json();
    assert.equal(r2.id, "a%20b");
    assert.equal(r2.internalID, r.internalID);
  });

  test("the query string is ignored by routing", async () => {
    const a = (await http(server.host, "/parties/main/q1?foo=bar&_pk=zzz")).json();
    const b = (await http(server.host, "/parties/main/q1")).json();
    assert.equal(a.id, "q1");
    assert.equal(a.internalID, b.internalID);
    assert.equal(b.starts, 1);
  });

  test("a subpath reaches onRequest with the full URL", async () => {
    const r = await http(server.host, "/parties/main/sub1/a/b/c?x=1&y=2", { method: "POST", body: "hi" });
    assert.equal(r.status, 200);
    const j = r.json();
    assert.equal(j.id, "sub1");
    assert.equal(j.method, "POST");
    assert.equal(j.url, `http://${server.host}/parties/main/sub1/a/b/c?x=1&y=2`);
    const legacy = (await http(server.host, "/party/sub1/deeper?z=3")).json();
    assert.equal(legacy.url, `http://${server.host}/party/sub1/deeper?z=3`);
    assert.equal(legacy.internalID, j.internalID);
  });

  test("a party under `parties` is reached at /parties/<name>/<room>", async () => {
    const r = (await http(server.host, "/parties/other/x/hello?q=1")).json();
    assert.equal(r.party, "other");
    assert.equal(r.id, "x");
    assert.equal(r.url, `http://${server.host}/parties/other/x/hello?q=1`);
    const main = (await http(server.host, "/parties/main/x")).json();
    assert.notEqual(r.internalID, main.internalID, "same room name in another party is another instance");
    const c = await connect(server.host, "/parties/other/x");
    assert.deepEqual(await c.nextJson(), { party: "other", id: "x" });
    await c.closeAndWait();
  });

  test("an unknown party is 404 `Party nope not found` over HTTP", async () => {
    const r = await http(server.host, "/parties/nope/x");
    assert.equal(r.status, 404);
    assert.equal(r.text, "Party nope not found");
  });

  test("an unknown party is 404 `Party nope not found` over WebSocket", async () => {
    const c = openSocket(server.host, "/parties/nope/x");
    await assert.rejects(c.opened, (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.body, "Party nope not found");
      return true;
    });
  });

  test("an empty room is not a party URL: 404", async () => {
    const r = await http(server.host, "/parties/main/");
    assert.equal(r.status, 404);
    const r2 = await http(server.host, "/party/");
    assert.equal(r2.status, 404);
  });
});

// One kept-alive connection that addresses rooms on every shard: the first request moves the
// connection to its room's shard; each later request to a room of another shard is answered from
// there while the connection stays (partyd's own shards, so partyd only).
describe("one keep-alive connection across shards", { timeout: 30_000, skip: (IS_PARTYKIT || IS_EXTERNAL) && "partyd's shards" }, () => {
  test("every room answers as itself, once started, in order", async () => {
    const sharded = await startServer("routing", { args: ["--threads", "4"] });
    const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path) => new Promise((resolve, reject) => {
      nodeHttp.get(`http://${sharded.host}${path}`, { agent }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body, socket: res.socket }));
      }).on("error", reject);
    });
    try {
      const ids = new Map();
      const sockets = new Set();
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 24; i++) {
          const r = await get(`/parties/main/across-${i}`);
          assert.equal(r.status, 200);
          const j = JSON.parse(r.body);
          assert.equal(j.id, `across-${i}`);
          assert.equal(j.starts, 1, `across-${i} started once`);
          if (round === 0) ids.set(i, j.internalID);
          else assert.equal(j.internalID, ids.get(i));
          sockets.add(r.socket);
        }
      }
      assert.equal(sockets.size, 1, "one connection carried every request");
    } finally {
      agent.destroy();
      await sharded.stop();
    }
  });
});
