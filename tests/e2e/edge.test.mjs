// The edge worker (PARTYKIT-API.md §1b, §2 stubs, §5a, §10.6-7, §10.14-15): onBeforeConnect and
// onBeforeRequest, onFetch, onSocket, onCron, static assets from `serve`, and party-to-party
// calls through room.context.parties.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, http, openSocket, startServer } from "./harness.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer("edge");
});
after(async () => {
  await server?.stop();
});

describe("onBeforeConnect", { timeout: 30_000 }, () => {
  test("returning a Response rejects the upgrade with that response", async () => {
    const c = openSocket(server.host, { room: "bc1", query: { mode: "deny" } });
    await assert.rejects(c.opened, { status: 403, body: "denied connect bc1" });
  });

  test("throwing rejects the upgrade with 401 and the message", async () => {
    const c = openSocket(server.host, { room: "bc2", query: { mode: "throw" } });
    await assert.rejects(c.opened, { status: 401, body: "nope connect" });
  });

  test("returning a modified Request forwards it: onConnect sees the added header", async () => {
    const c = await connect(server.host, { room: "bc3", id: "me", query: { mode: "rewrite" } });
    assert.deepEqual(await c.nextJson(), {
      id: "me",
      added: "connect:bc3:edge",
      url: `http://${server.host}/parties/main/bc3?_pk=me&mode=rewrite`,
    });
    await c.closeAndWait();
  });

  test("returning undefined forwards the original request", async () => {
    const c = await connect(server.host, { room: "bc4", id: "me", query: { mode: "undefined" } });
    assert.equal((await c.nextJson()).added, null);
    await c.closeAndWait();
  });
});

describe("onBeforeRequest", { timeout: 30_000 }, () => {
  test("returning a Response answers with it as-is", async () => {
    const r = await http(server.host, "/parties/main/br1?mode=deny");
    assert.equal(r.status, 403);
    assert.equal(r.text, "denied request br1");
  });

  test("throwing answers 401 with the message", async () => {
    const r = await http(server.host, "/parties/main/br2?mode=throw");
    assert.equal(r.status, 401);
    assert.equal(r.text, "nope request");
  });

  test("returning a modified Request forwards it: onRequest sees the added header", async () => {
    const r = (await http(server.host, "/parties/main/br3?mode=rewrite")).json();
    assert.deepEqual(r, {
      added: "request:br3:edge",
      url: `http://${server.host}/parties/main/br3?mode=rewrite`,
      method: "GET",
    });
  });

  test("returning undefined is a 500 (PartyKit forwards `undefined`, not the request)", async () => {
    const r = await http(server.host, "/parties/main/br4?mode=undefined");
    assert.equal(r.status, 500);
  });

  test("it runs on the target party's class only", async () => {
    const r = await http(server.host, "/parties/other/x/direct");
    assert.equal(r.text, `other x GET http://${server.host}/parties/other/x/direct  edge=yes`);
  });
});

describe("party to party", { timeout: 30_000 }, () => {
  test("stub.fetch reaches the other party directly, bypassing its onBeforeRequest", async () => {
    const r = await http(server.host, "/parties/main/p2p/call-other");
    assert.equal(r.text, `200 other x POST http://${server.host}/parties/other/x/hello?q=1 hi edge=null`);
  });

  test("stub.fetch with a path not starting with / throws", async () => {
    const r = await http(server.host, "/parties/main/p2p/bad-path");
    assert.equal(r.text, "error: Path must start with /");
  });

  test("stub.socket() opens a WebSocket to the other party, with a fresh UUID id", async () => {
    const r = await http(server.host, "/parties/main/p2p/socket-other");
    const [kind, room, id] = r.text.split(" ");
    assert.equal(kind, "other-ws");
    assert.equal(room, "y");
    assert.match(id, UUID_RE);
  });

  test("room.context.assets.fetch serves a static asset, or null", async () => {
    const r = (await http(server.host, "/parties/main/p2p/assets")).json();
    assert.deepEqual(r, { hit: "plain asset\n", miss: null });
  });
});

describe("non-party URLs", { timeout: 30_000 }, () => {
  test("static assets from `serve`, index.html for directories", async () => {
    const index = await http(server.host, "/");
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type"), /^text\/html/);
    assert.equal(index.text, "<!doctype html><title>index</title><p>static index</p>\n");
    const txt = await http(server.host, "/a.txt");
    assert.equal(txt.status, 200);
    assert.equal(txt.text, "plain asset\n");
    const nested = await http(server.host, "/sub/");
    assert.equal(nested.text, "nested index\n");
  });

  test("onFetch answers paths that match no asset", async () => {
    const r = await http(server.host, "/custom?z=1");
    assert.equal(r.status, 200);
    assert.equal(r.text, "custom GET ?z=1 edge");
  });

  test("onFetch returning null falls through to 404.html with status 404", async () => {
    for (const p of ["/missing", "/sub", "/parties/main/"]) {
      const r = await http(server.host, p);
      assert.equal(r.status, 404, p);
      assert.equal(r.text, "<!doctype html><title>404</title><p>custom not found</p>\n", p);
    }
  });

  test("onSocket handles WebSocket upgrades that match no party URL", async () => {
    const c = await connect(server.host, "/some/path?x=1");
    assert.equal(await c.nextMessage(), "socket /some/path");
    c.send("hi");
    assert.equal(await c.nextMessage(), "socket-echo:hi");
    await c.closeAndWait();
  });

  test("GET /__scheduled__?cron=<name> runs onCron with the configured expression", async () => {
    const r = await http(server.host, "/__scheduled__?cron=nightly");
    assert.equal(r.status, 200);
    assert.equal(r.text, "ran cron nightly: 0 0 * * *");
    const log = (await http(server.host, "/parties/main/cron-log")).json();
    assert.deepEqual(log, ["nightly 0 0 * * *"]);
    const unknown = await http(server.host, "/__scheduled__?cron=unknown");
    assert.equal(unknown.text, "ran cron unknown: * * * * *");
  });
});
