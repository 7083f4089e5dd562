// The unmodified `partysocket` client (PARTYKIT-API.md §5b, §10.16): the URL it builds, the id
// and query the server sees, reconnecting with the same id, and PartySocket.fetch.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import PartySocket from "partysocket";
import { startServer, usePartySocket } from "../harness.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer("connection");
});
after(async () => {
  await server?.stop();
});

describe("partysocket", { timeout: 30_000 }, () => {
  test("connects with a fixed id and query; the server sees both", async () => {
    const ps = await usePartySocket({ host: server.host, room: "ps1", id: "fixed", query: { token: "abc" } });
    await ps.opened;
    const w = (await ps.nextJson()).result;
    assert.equal(w.id, "fixed");
    assert.equal(w.uri, `http://${server.host}/parties/main/ps1?_pk=fixed&token=abc`);
    assert.equal(new URL(w.requestUrl).searchParams.get("token"), "abc");
    ps.socket.send(JSON.stringify({ op: "setState", value: 1 }));
    assert.deepEqual(await ps.nextJson(), { op: "setState", result: 1 });
    ps.close();
  });

  test("accepts an http:// host and a named party path", async () => {
    const ps = await usePartySocket({ host: `http://${server.host}/`, party: "main", room: "ps2", id: "h" });
    await ps.opened;
    assert.equal((await ps.nextJson()).result.uri, `http://${server.host}/parties/main/ps2?_pk=h`);
    ps.close();
  });

  test("after a server-side close it reconnects with the same generated id", async () => {
    const ps = await usePartySocket({
      host: server.host,
      room: "ps3",
      minReconnectionDelay: 50,
      maxReconnectionDelay: 100,
    });
    await ps.opened;
    const first = (await ps.nextJson()).result;
    assert.match(first.id, UUID_RE);
    assert.equal(first.id, ps.socket.id);
    const closes = [];
    ps.socket.addEventListener("close", (e) => closes.push(e.code));
    ps.socket.send(JSON.stringify({ op: "closeOther", id: first.id, code: 4001, reason: "bye" }));
    const again = await ps.waitFor((m) => m.includes('"welcome"'), 10_000, "the welcome after reconnecting");
    assert.equal(JSON.parse(again).result.id, first.id);
    assert.deepEqual(closes, [4001]);
    ps.close();
  });

  test("messages sent before open are delivered once connected", async () => {
    const ps = await usePartySocket({ host: server.host, room: "ps4", id: "early" });
    ps.socket.send(JSON.stringify({ op: "state" }));
    await ps.opened;
    // The buffered message is flushed before `open`, so it may be answered before the welcome.
    const got = [await ps.nextJson(), await ps.nextJson()].map((m) => m.op).sort();
    assert.deepEqual(got, ["state", "welcome"]);
    ps.close();
  });

  test("PartySocket.fetch reaches onRequest at /parties/main/<room>/<path>?<query>", async () => {
    const res = await PartySocket.fetch({ host: server.host, room: "psf", path: "x/y", query: { a: "1" } });
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.equal(j.method, "GET");
    assert.equal(j.url, `http://${server.host}/parties/main/psf/x/y?a=1`);
    assert.equal(j.id, "psf");
  });

  test("PartySocket.fetch with a method and body", async () => {
    const res = await PartySocket.fetch(
      { host: server.host, party: "main", room: "psf2" },
      { method: "POST", body: "posted" },
    );
    const j = await res.json();
    assert.equal(j.method, "POST");
    assert.equal(j.body, "posted");
    assert.equal(new URL(j.url).pathname, "/parties/main/psf2");
  });
});
