// Compat corpus, feature 1: worker hooks (PARTYKIT-API.md §1b, §5a, §10.6-7, §10.15).
// onBeforeConnect / onBeforeRequest (a Response short-circuits, a Request replaces the original,
// a throw is 401), onFetch for non-party paths, onSocket, onCron through the dev server's
// /__scheduled__ trigger, and the lobby each hook gets (id, env, parties).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { IS_PARTYKIT, connect, http, openSocket, projectDir, startServer, waitUntil } from "../../harness.mjs";

const NOT_FOUND_HTML = "<!doctype html><title>404</title><p>custom not found</p>\n";

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
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

  test("returning the modified Request forwards it: onConnect sees the added header", async () => {
    const c = await connect(server.host, { room: "bc3", id: "me", query: { mode: "rewrite" } });
    assert.deepEqual(await c.nextJson(), {
      id: "me",
      added: "connect:bc3:edge",
      url: `http://${server.host}/parties/main/bc3?_pk=me&mode=rewrite`,
    });
    await c.closeAndWait();
  });

  test("returning a new Request replaces the original (its URL and headers reach onConnect)", async () => {
    const c = await connect(server.host, { room: "bc5", id: "me", query: { mode: "replace" } });
    assert.deepEqual(await c.nextJson(), {
      id: "me",
      added: "replaced",
      url: `http://${server.host}/parties/main/bc5?_pk=me&mode=replace&replaced=1`,
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

  test("returning the modified Request forwards it: onRequest sees the added header", async () => {
    const r = (await http(server.host, "/parties/main/br3?mode=rewrite")).json();
    assert.deepEqual(r, {
      added: "request:br3:edge",
      url: `http://${server.host}/parties/main/br3?mode=rewrite`,
      method: "GET",
      body: null,
    });
  });

  test("returning a new Request replaces the original: its URL, method and body", async () => {
    const r = (await http(server.host, "/parties/main/br5?mode=replace", { method: "POST", body: "old" })).json();
    assert.deepEqual(r, {
      added: "replaced",
      url: `http://${server.host}/parties/main/br5?mode=replace&replaced=1`,
      method: "PUT",
      body: "new body",
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

describe("lobby", { timeout: 30_000 }, () => {
  test("onBeforeRequest's lobby has the room id, env from vars, and stubs for every party", async () => {
    const r = (await http(server.host, "/parties/main/lobby-room?mode=lobby")).json();
    assert.deepEqual(r, {
      id: "lobby-room",
      env: "edge",
      parties: ["main", "other"],
      hasGet: "function",
      other: `other from-lobby GET http://${server.host}/parties/other/from-lobby/ping  edge=null`,
    });
  });

  test("onFetch's lobby has env and parties, and no id", async () => {
    const r = (await http(server.host, "/lobby")).json();
    assert.deepEqual(r, { id: "(absent)", env: "edge", parties: ["main", "other"], hasGet: "function" });
  });
});

describe("onFetch and onSocket (non-party URLs)", { timeout: 30_000 }, () => {
  test("onFetch answers paths that match no party and no asset", async () => {
    const r = await http(server.host, "/custom?z=1");
    assert.equal(r.status, 200);
    assert.equal(r.text, "custom GET ?z=1 edge");
    const post = await http(server.host, "/post-only", { method: "POST", body: "x" });
    assert.equal(post.status, 202);
    assert.equal(post.text, "onFetch got POST");
  });

  test("onFetch returning null falls through to 404.html with status 404", async () => {
    for (const p of ["/missing", "/post-only", "/parties/main/", "/party/"]) {
      const r = await http(server.host, p);
      assert.equal(r.status, 404, p);
      assert.equal(r.text, NOT_FOUND_HTML, p);
    }
  });

  test("onSocket handles WebSocket upgrades that match no party URL", async () => {
    const c = await connect(server.host, "/some/path?x=1");
    assert.equal(await c.nextMessage(), "socket /some/path edge");
    c.send("hi");
    assert.equal(await c.nextMessage(), "socket-echo:hi");
    await c.closeAndWait();
  });
});

describe("onCron", { timeout: 90_000 }, () => {
  test("GET /__scheduled__?cron=<name> runs onCron with the name and expression from `crons`", async () => {
    const r = await http(server.host, "/__scheduled__?cron=nightly");
    assert.equal(r.status, 200);
    assert.equal(r.text, "ran cron nightly: 0 0 * * *");
    const hourly = await http(server.host, "/__scheduled__?cron=hourly");
    assert.equal(hourly.text, "ran cron hourly: 0 * * * *");
    assert.deepEqual((await http(server.host, "/parties/main/cron-nightly")).json(), ["nightly 0 0 * * * number edge"]);
    assert.deepEqual((await http(server.host, "/parties/main/cron-hourly")).json(), ["hourly 0 * * * * number edge"]);
  });

  test("an unknown cron name still runs onCron, with `* * * * *`", async () => {
    const unknown = await http(server.host, "/__scheduled__?cron=unknown");
    assert.equal(unknown.status, 200);
    assert.equal(unknown.text, "ran cron unknown: * * * * *");
  });

  test(
    "crons run on their schedule: `* * * * *` fires within a minute",
    { skip: !IS_PARTYKIT ? false : "partykit dev runs crons only through /__scheduled__, never on a schedule", timeout: 75_000 },
    async () => {
      const runs = await waitUntil(
        async () => {
          const log = (await http(server.host, "/parties/main/cron-minutely")).json();
          return log.length > 0 && log;
        },
        { timeout: 65_000, interval: 500, what: "a scheduled run of the minutely cron" },
      );
      assert.equal(runs[0], "minutely * * * * * number edge");
    },
  );
});
