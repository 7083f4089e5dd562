// Code updates that keep sockets open (issue 10, item 3), on `partyd dev`, which swaps each new
// build in through the same path as a deploy (Server::reload). The project has a party that
// hibernates (main) and one that does not (plain). With sockets on both and HTTP requests in
// flight, the party file is rewritten; then:
//   - no socket of the hibernating party is closed, and each answers from the new code with its
//     id, tags and state kept (hibernated rooms, and one kept live by a steady stream of messages);
//   - every socket of the plain party is closed with 1012 (Service Restart);
//   - no HTTP request fails, including those in flight during the swap;
//   - a build that throws while loading changes nothing: every socket stays open on the old code.
// partyd only: partykit dev closes every socket on a change.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { IS_PARTYKIT, IS_EXTERNAL, connect, http, startServer, tmpDir, waitUntil } from "../harness.mjs";

const HIBERNATED = 12; // sockets in rooms left quiet until they hibernate
const PLAIN = 6;       // sockets of the party that does not hibernate

const dir = tmpDir("partyd-code-update-");
const serverFile = path.join(dir, "src", "server.ts");

// The party file, as of `version`. main hibernates: each socket carries tags and a state, and
// every answer names the code that gave it. plain does not; its onRequest may await `?delay=`.
function partySource(version, extra = "") {
  return `import type * as Party from "partykit/server";
export const VERSION = ${JSON.stringify(version)};
${extra}
export default class Main implements Party.Server {
  static options = { hibernate: true };
  constructor(readonly room: Party.Room) {}
  getConnectionTags(conn: Party.Connection, ctx: Party.ConnectionContext) {
    return ["tag-" + new URL(ctx.request.url).searchParams.get("t")];
  }
  onConnect(conn: Party.Connection) {
    conn.setState({ count: 0, joinedOn: VERSION });
    conn.send(JSON.stringify({ v: VERSION, hello: conn.id }));
  }
  onMessage(message: string, conn: Party.Connection<{ count: number; joinedOn: string }>) {
    if (message === "slow") {
      // A handler that awaits across the update: the room must not move before it settles.
      return new Promise((r) => setTimeout(r, 3000)).then(() =>
        conn.send(JSON.stringify({ v: VERSION, echo: "slow-done" })));
    }
    const state = conn.setState({ ...conn.state!, count: conn.state!.count + 1 });
    conn.send(JSON.stringify({ v: VERSION, id: conn.id, tags: conn.tags, state, echo: message }));
  }
  async onRequest(req: Party.Request) {
    return new Response(VERSION);
  }
}
`;
}

const plainSource = `import type * as Party from "partykit/server";
import { VERSION } from "./server";
export default class Plain implements Party.Server {
  constructor(readonly room: Party.Room) {}
  onConnect(conn: Party.Connection) { conn.send(VERSION); }
  onMessage(message: string, conn: Party.Connection) { conn.send(VERSION); }
  async onRequest(req: Party.Request) {
    const delay = Number(new URL(req.url).searchParams.get("delay") ?? 0);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    return new Response(VERSION);
  }
}
`;

let server;
before(async () => {
  fs.mkdirSync(path.join(dir, "src"), { recursive: true });
  fs.writeFileSync(path.join(dir, "partykit.json"), JSON.stringify({
    name: "e2e-code-update",
    main: "src/server.ts",
    compatibilityDate: "2024-07-18",
    parties: { plain: "src/plain.ts" },
  }, null, 2));
  fs.writeFileSync(serverFile, partySource("v1"));
  fs.writeFileSync(path.join(dir, "src", "plain.ts"), plainSource);
  if (IS_EXTERNAL || IS_PARTYKIT) return;
  server = await startServer(dir, { args: ["--hibernate-after", "300"] });
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// HTTP requests in a loop until stop(): to both parties, some awaiting in the plain party's
// onRequest while the swap happens. Counts answers by body and every failure.
function httpLoad(host, workers = 6) {
  const tally = { ok: 0, failed: 0, bodies: {}, errors: [] };
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const target = w % 2 === 0 ? `/parties/plain/p${w % 3}?delay=150` : `/parties/main/web${i % 3}`;
      try {
        const r = await http(host, target, { timeout: 15_000 });
        if (r.status === 200) {
          tally.ok++;
          tally.bodies[r.text] = (tally.bodies[r.text] ?? 0) + 1;
        } else {
          tally.failed++;
          tally.errors.push(`${target}: ${r.status} ${r.text}`);
        }
      } catch (e) {
        tally.failed++;
        tally.errors.push(`${target}: ${e.message}`);
      }
    }
  });
  return { tally, async stop() { running = false; await Promise.all(loops); } };
}

const rewrite = (version, extra) => fs.writeFileSync(serverFile, partySource(version, extra));
const served = async () => (await http(server.host, `/parties/main/fresh-${Date.now()}`)).text;

describe("code updates keep sockets open", { timeout: 120_000, skip: (IS_EXTERNAL || IS_PARTYKIT) && "partyd dev only" }, () => {
  const hibernated = [];
  const plain = [];
  let live;
  let closes = [];

  test("sockets on both parties, the hibernating ones quiet until they hibernate", async () => {
    for (let i = 0; i < HIBERNATED; i++) {
      const c = await connect(server.host, `/parties/main/h${i % 3}?_pk=hib-${i}&t=${i}`);
      assert.deepEqual(JSON.parse(await c.nextMessage()), { v: "v1", hello: `hib-${i}` });
      c.send("before");
      const answer = JSON.parse(await c.nextMessage());
      assert.equal(answer.state.count, 1);
      hibernated.push(c);
    }
    for (let i = 0; i < PLAIN; i++) {
      const c = await connect(server.host, `/parties/plain/p${i % 3}`);
      assert.equal(await c.nextMessage(), "v1");
      plain.push(c);
    }
    live = await connect(server.host, "/parties/main/busy?_pk=live&t=live");
    await live.nextMessage();
    for (const c of [...hibernated, ...plain, live]) c.closed.then((e) => closes.push({ path: c.path, ...e }));
    // --hibernate-after 300: the quiet rooms drop their objects.
    await new Promise((r) => setTimeout(r, 1200));
  });

  test("a build that throws while loading changes nothing", async () => {
    const before = server.logs().length;
    rewrite("broken", 'throw new Error("boom at load");');
    await waitUntil(() => /boom at load/.test(server.logs().slice(before)), { timeout: 20_000, what: "the load error in the log" });
    assert.equal(await served(), "v1");
    assert.deepEqual(closes, [], "a socket was closed by a build that failed");
    const c = hibernated[0];
    c.send("still-v1");
    const answer = JSON.parse(await c.nextMessage());
    assert.equal(answer.v, "v1");
    assert.equal(answer.state.count, 2);
    plain[0].send("x");
    assert.equal(await plain[0].nextMessage(), "v1");
  });

  test("a new build: hibernated sockets stay and answer from it, plain ones get 1012, no request fails", async () => {
    // The live hibernating room gets a message every 20 ms throughout.
    let pinging = true;
    const pings = (async () => {
      while (pinging) {
        live.send("ping");
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const load = httpLoad(server.host);
    await new Promise((r) => setTimeout(r, 300));
    rewrite("v2");
    await waitUntil(async () => (await served()) === "v2", { timeout: 20_000, what: "the new build to be served" });
    // The plain party's sockets close with 1012 once their rooms are idle (at most the delay).
    const plainCloses = await Promise.all(plain.map((c) => c.closedWithin(15_000)));
    await new Promise((r) => setTimeout(r, 500));
    pinging = false;
    await pings;
    await load.stop();

    assert.deepEqual(plainCloses.map((e) => e.code), plain.map(() => 1012));
    assert.equal(load.tally.failed, 0, `HTTP requests failed: ${load.tally.errors.slice(0, 5).join("; ")}`);
    assert.ok(load.tally.bodies.v1 > 0 && load.tally.bodies.v2 > 0, `answers: ${JSON.stringify(load.tally.bodies)}`);

    // The live room moved without closing: its answers went from v1 to v2, in order.
    const versions = live.messages.slice(1).map((m) => JSON.parse(m).v);
    const firstV2 = versions.indexOf("v2");
    assert.ok(firstV2 > 0, `the live room never answered from v2: ${versions.slice(-3)}`);
    assert.ok(versions.slice(firstV2).every((v) => v === "v2"), "an answer from v1 after one from v2");
    const counts = live.messages.slice(1).map((m) => JSON.parse(m).state.count);
    assert.deepEqual(counts, counts.map((_, i) => i + 1), "the live socket's state was not kept across the move");

    // Every hibernated socket is open and answers from v2, with its id, tags and state.
    for (let i = 0; i < HIBERNATED; i++) {
      const c = hibernated[i];
      c.drain();
      c.send("after");
      const answer = JSON.parse(await c.waitFor((m) => JSON.parse(m).echo === "after", 5_000, "the answer to 'after'"));
      assert.equal(answer.v, "v2");
      assert.equal(answer.id, `hib-${i}`);
      assert.deepEqual(answer.tags, [`hib-${i}`, `tag-${i}`]);
      assert.equal(answer.state.joinedOn, "v1");
      assert.equal(answer.state.count, i === 0 ? 3 : 2);
    }
    const hibernatedCloses = closes.filter((e) => !e.path.startsWith("/parties/plain/"));
    assert.deepEqual(hibernatedCloses, [], "a socket of the hibernating party was closed");

    // partysocket would reconnect on 1012: a new socket reaches the new code.
    const again = await connect(server.host, "/parties/plain/p0");
    assert.equal(await again.nextMessage(), "v2");
  });

  test("a live hibernating room whose handler awaits moves once that settles, keeping its socket", async () => {
    const c = await connect(server.host, "/parties/main/awaits?_pk=aw&t=aw");
    assert.equal(JSON.parse(await c.nextMessage()).v, "v2");
    c.send("slow");
    await new Promise((r) => setTimeout(r, 100));
    rewrite("v3");
    await waitUntil(async () => (await served()) === "v3", { timeout: 20_000, what: "the v3 build to be served" });
    c.send("quick");
    const quick = JSON.parse(await c.waitFor((m) => JSON.parse(m).echo === "quick", 5_000, "the answer to 'quick'"));
    assert.equal(quick.v, "v2", "the room moved to the new code while a handler awaited");
    const slow = JSON.parse(await c.waitFor((m) => JSON.parse(m).echo === "slow-done", 10_000, "the slow handler's end"));
    assert.equal(slow.v, "v2");
    // The room is idle now: it moves at the next sweep; its next message runs v3.
    await waitUntil(async () => {
      c.send("after");
      const m = JSON.parse(await c.waitFor((x) => JSON.parse(x).echo === "after", 5_000, "the answer to 'after'"));
      return m.v === "v3";
    }, { timeout: 10_000, interval: 200, what: "an answer from v3" });
    assert.equal(JSON.parse(c.messages.at(-1)).state.joinedOn, "v2", "the socket's state was not kept");
    assert.deepEqual(closes.filter((e) => !e.path.startsWith("/parties/plain/")), []);
    assert.equal(c.readyState, 1);
  });
});
