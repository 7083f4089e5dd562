// Compat corpus, feature 2: many parties (PARTYKIT-API.md §2 "Stubs", §5a, §10.14). The
// `parties` map in partykit.json, each party its own instances, and the stubs of
// room.context.parties.<name>.get(id): fetch(pathOrInit), socket(path) and deprecated connect().
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, http, projectDir, startServer } from "../../harness.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
});
after(async () => {
  await server?.stop();
});

const run = async (room, which) => http(server.host, `/parties/main/${room}/${which}`);

describe("the parties map", { timeout: 30_000 }, () => {
  test("every party in `parties` is served under /parties/<name>/<room>, unknown ones are 404", async () => {
    const r = await http(server.host, "/parties/counter/direct/path?a=1");
    assert.equal(r.text, `counter/direct #1 GET http://${server.host}/parties/counter/direct/path?a=1  edge=yes`);
    const c = await connect(server.host, { party: "echo", room: "e1", id: "me" });
    assert.deepEqual(await c.nextJson(), {
      party: "echo",
      room: "e1",
      id: "me",
      url: `http://${server.host}/parties/echo/e1?_pk=me`,
      edge: "yes",
    });
    c.send("hi");
    assert.equal(await c.nextMessage(), "echo:hi");
    await c.closeAndWait();
    const missing = await http(server.host, "/parties/nope/x");
    assert.equal(missing.status, 404);
    assert.equal(missing.text, "Party nope not found");
  });

  test("room.context.parties (and the deprecated room.parties) hold main and every party", async () => {
    assert.deepEqual((await run("k", "keys")).json(), {
      context: ["counter", "echo", "main"],
      deprecated: ["counter", "echo", "main"],
    });
    assert.deepEqual((await run("k", "unknown-party")).json(), { type: "undefined" });
  });
});

describe("stub.fetch", { timeout: 30_000 }, () => {
  test("fetch(path, init) reaches the party's room directly, bypassing its onBeforeRequest", async () => {
    assert.equal(
      (await run("p1", "fetch-path")).text,
      `200 counter/x #1 POST http://${server.host}/parties/counter/x/hello?q=1 hi edge=null`,
    );
  });

  test("fetch(init) without a path goes to the room URL itself", async () => {
    assert.match(
      (await run("p2", "fetch-init")).text,
      new RegExp(`^200 counter/x #\\d+ PUT http://${server.host}/parties/counter/x init only edge=null$`),
    );
  });

  test("fetch() with no argument is a GET of the room URL", async () => {
    assert.equal((await run("p3", "fetch-none")).text, `200 counter/y #1 GET http://${server.host}/parties/counter/y  edge=null`);
  });

  test("one stub reaches one instance; another id is another instance", async () => {
    assert.equal(
      (await run("p4", "fetch-twice")).text,
      `counter/twice #2 GET http://${server.host}/parties/counter/twice/b  edge=null | ` +
        `counter/twice-other #1 GET http://${server.host}/parties/counter/twice-other/c  edge=null`,
    );
  });

  test("a path that does not start with / throws", async () => {
    assert.equal((await run("p5", "bad-path")).text, "error: Path must start with /");
  });
});

describe("stub.socket and stub.connect", { timeout: 30_000 }, () => {
  test("socket() resolves to an open WebSocket to the room, with a fresh UUID id", async () => {
    const [hello, reply] = (await run("w1", "socket")).json();
    const h = JSON.parse(hello);
    assert.equal(h.party, "echo");
    assert.equal(h.room, "s1");
    assert.match(h.id, UUID_RE);
    assert.equal(h.url, `http://${server.host}/parties/echo/s1`);
    assert.equal(reply, "echo:ping");
  });

  test(
    "socket() bypasses the target party's onBeforeConnect, as fetch() bypasses onBeforeRequest",
    async () => {
      const [hello] = (await run("w4", "socket")).json();
      assert.equal(JSON.parse(hello).edge, null);
    },
  );

  test("socket(path) appends the path and query to the room URL", async () => {
    const [hello, reply] = (await run("w2", "socket-path")).json();
    const h = JSON.parse(hello);
    assert.equal(h.room, "s2");
    assert.equal(h.url, `http://${server.host}/parties/echo/s2/sub?x=1`);
    assert.equal(reply, "echo:ping");
  });

  test("the deprecated connect() returns a WebSocket at once, that opens to the room", async () => {
    const r = (await run("w3", "connect")).json();
    assert.equal(r.isWebSocket, true);
    const h = JSON.parse(r.got[0]);
    assert.equal(h.party, "echo");
    assert.equal(h.room, "s3");
    assert.match(h.id, UUID_RE);
    assert.equal(h.url, `http://${server.host}/parties/echo/s3`);
    assert.equal(h.edge, "yes", "connect() goes through the edge: onBeforeConnect runs");
    assert.equal(r.got[1], "echo:ping");
  });
});
