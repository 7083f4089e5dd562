// Compat corpus: the edge between a client and a room (issue 13, items 2-6), each case seen on
// `partykit dev` 0.0.115:
// - a party whose constructor throws answers requests and upgrades with 500 and the message (or
//   the error's `.code`), with no 101; it tries again on the next request. An onStart that throws
//   gives the request that woke the room that answer, and the room then serves.
// - onBeforeConnect may answer with a WebSocketPair's client end in a 101 Response: the client
//   gets an upgraded socket with what the server end sent, closed with its code and reason.
// - onBeforeConnect may return `lobby.parties.main.get(id).fetch(req)`: the upgrade goes into that
//   room, which sees the stub's URL (no query, so a fresh connection id) and the hook's headers.
// - a WebSocket upgrade outside /parties reaches the static onFetch, which may do the same.
// - request.cf is miniflare's placeholder (a visitor from Austin, Texas).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { http, openSocket, projectDir, startServer } from "../../harness.mjs";

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
});
after(async () => {
  await server?.stop();
});

// Opens a socket and reports how it went: refused (status, body) or opened, with its messages
// and how it closed.
async function trySocket(path, { waitClose = true } = {}) {
  const c = openSocket(server.host, path);
  try {
    await c.opened;
  } catch (e) {
    return { refused: e.status, body: e.body };
  }
  if (!waitClose) return { client: c };
  const closed = await c.closedWithin(5_000);
  return { messages: c.messages, closed };
}

describe("a party whose constructor throws", { timeout: 30_000 }, () => {
  test("a request gets 500 and the message, again on the next request", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await http(server.host, "/parties/broken/b1");
      assert.equal(r.status, 500);
      assert.equal(r.text, "constructor failed for b1");
    }
  });

  test("an error's .code is the status", async () => {
    const r = await http(server.host, "/parties/broken/code-1");
    assert.equal(r.status, 418);
    assert.equal(r.text, "teapot in code-1");
  });

  test("an upgrade is refused with 500 and the message (no 101)", async () => {
    assert.deepEqual(await trySocket("/parties/broken/b2"),
                     { refused: 500, body: "constructor failed for b2" });
    assert.deepEqual(await trySocket("/parties/broken/code-2"),
                     { refused: 418, body: "teapot in code-2" });
  });

  test("the same party's other rooms serve", async () => {
    const r = await http(server.host, "/parties/broken/ok-1");
    assert.equal(r.status, 200);
    assert.equal(r.text, "constructed, onStart ran 1");
  });

  test("onStart throwing: the request that woke the room gets 500, the next is served", async () => {
    const first = await http(server.host, "/parties/broken/start-1");
    assert.equal(first.status, 500);
    assert.equal(first.text, "onStart failed for start-1");
    const second = await http(server.host, "/parties/broken/start-1");
    assert.equal(second.status, 200);
    assert.equal(second.text, "constructed, onStart ran 1");
  });
});

describe("WebSocketPair from onBeforeConnect", { timeout: 30_000 }, () => {
  test("the client gets a 101, then the server end's close code and reason", async () => {
    const r = await trySocket("/parties/pair/p1");
    assert.deepEqual(r, { messages: [], closed: { code: 1011, reason: "refused p1" } });
  });

  test("what the server end sent before closing arrives first", async () => {
    const r = await trySocket("/parties/pair/hello-1");
    assert.deepEqual(r, { messages: ["hello from hello-1"],
                          closed: { code: 1011, reason: "refused hello-1" } });
  });
});

describe("an upgrade passed on through a party stub", { timeout: 30_000 }, () => {
  test("onBeforeConnect returning stub.fetch(req) upgrades into the target room", async () => {
    const { client } = await trySocket("/parties/router/r1?_pk=alice", { waitClose: false });
    assert.ok(client, "the upgrade was refused");
    const hello = await client.nextJson();
    const url = `http://${server.host}/parties/main/r1-shard`;
    assert.deepEqual(hello, { party: "main", room: "r1-shard", uri: url, requestUrl: url,
                              hasUpgrade: "websocket", via: "router:r1" });
    client.send("ping");
    assert.equal(await client.nextMessage(), "echo ping");
    await client.closeAndWait();
  });

  test("an upgrade outside /parties reaches onFetch, which passes it to a room", async () => {
    const { client } = await trySocket("/fetch-ws/f1?_pk=bob", { waitClose: false });
    assert.ok(client, "the upgrade was refused");
    const hello = await client.nextJson();
    const url = `http://${server.host}/parties/main/f1`;
    assert.deepEqual(hello, { party: "main", room: "f1", uri: url, requestUrl: url,
                              hasUpgrade: "websocket", via: null });
    client.send("pong");
    assert.equal(await client.nextMessage(), "echo pong");
    await client.closeAndWait();
  });

  test("an upgrade outside /parties that onFetch leaves is a 404", async () => {
    const r = await trySocket("/elsewhere");
    assert.equal(r.refused, 404);
  });
});

describe("request.cf", { timeout: 30_000 }, () => {
  const expected = {
    asn: 395747, colo: "DFW", city: "Austin", region: "Texas", regionCode: "TX",
    postalCode: "78701", country: "US", continent: "NA", timezone: "America/Chicago",
    latitude: "30.27130", longitude: "-97.74260", httpProtocol: "HTTP/1.1",
  };
  test("a room's onRequest sees the placeholder of partykit dev", async () => {
    const { cf } = (await http(server.host, "/parties/main/cf1")).json();
    for (const [k, v] of Object.entries(expected)) assert.equal(cf[k], v, k);
    assert.equal(cf.tlsClientAuth.certVerified, "NONE");
    assert.equal(cf.botManagement.score, 99);
  });
  test("so does onFetch", async () => {
    const { cf } = (await http(server.host, "/cf")).json();
    for (const [k, v] of Object.entries(expected)) assert.equal(cf[k], v, k);
  });
});
