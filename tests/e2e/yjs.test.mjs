// Yjs through y-partykit, unmodified on both ends (PARTYKIT-API.md §7): the server is
// y-partykit's onConnect with snapshot persistence, the clients are YPartyKitProvider on `ws`.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import YPartyKitProvider from "y-partykit/provider";
import * as Y from "yjs";
import { IS_EXTERNAL, WebSocket, http, startServer, tmpDir, waitUntil, withTimeout } from "../harness.mjs";

let server;
let dir;
const clients = new Set();

before(async () => {
  dir = tmpDir();
  server = await startServer("yjs", { persist: dir });
});
after(async () => {
  for (const c of clients) leave(c);
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A Y.Doc synced to `room` through a YPartyKitProvider. */
async function join(room, id) {
  const doc = new Y.Doc();
  const provider = new YPartyKitProvider(server.host, room, doc, {
    WebSocketPolyfill: WebSocket,
    disableBc: true, // in one process, BroadcastChannel would sync the docs without the server
    connectionId: id,
  });
  const client = { doc, provider, text: doc.getText("t") };
  clients.add(client);
  await withTimeout(
    new Promise((resolve) => provider.once("synced", resolve)),
    10_000,
    `provider ${id} synced`,
  );
  return client;
}

/** Disconnects; destroying the doc also stops its Awareness timer, which would keep Node alive. */
function leave(client) {
  client.provider.destroy();
  client.doc.destroy();
  clients.delete(client);
}

const textIs = (client, expected) =>
  waitUntil(() => client.text.toString() === expected, {
    timeout: 10_000,
    what: `text "${expected}" (have "${client.text.toString()}")`,
  });

describe("yjs", { timeout: 60_000 }, () => {
  test("two providers converge on Y.Text edits from both sides", async () => {
    const a = await join("converge", "a");
    const b = await join("converge", "b");
    a.text.insert(0, "hello");
    await textIs(b, "hello");
    b.text.insert(5, " world");
    await textIs(a, "hello world");
    // Concurrent edits merge the same way on both sides.
    a.text.insert(0, "A");
    b.text.insert(b.text.length, "B");
    await textIs(a, "Ahello worldB");
    await textIs(b, "Ahello worldB");
    leave(a);
    leave(b);
  });

  test("a late joiner receives the current document", async () => {
    const a = await join("late", "a");
    const m = a.doc.getMap("m");
    a.text.insert(0, "early text");
    m.set("n", 42);
    const b = await join("late", "b");
    await textIs(b, "early text");
    assert.equal(b.doc.getMap("m").get("n"), 42);
    leave(a);
    leave(b);
  });

  test("awareness states reach the other clients", async () => {
    const a = await join("aware", "a");
    const b = await join("aware", "b");
    a.provider.awareness.setLocalStateField("user", { name: "ann" });
    await waitUntil(
      () => [...b.provider.awareness.getStates().values()].some((s) => s.user?.name === "ann"),
      { timeout: 10_000, what: "ann's awareness state at b" },
    );
    leave(a);
    leave(b);
  });

  test(
    "after every client left and the server restarted, a new client gets the document back",
    { skip: IS_EXTERNAL && "needs to restart the server" },
    async () => {
      const a = await join("persisted", "a");
      const b = await join("persisted", "b");
      a.text.insert(0, "kept across restarts");
      await textIs(b, "kept across restarts");
      leave(a);
      leave(b);
      // When the last client leaves, y-partykit compacts its update log into one snapshot
      // update ("v1"#"persisted"#"update"#<clock ≥ 1>#000) and a state vector: wait for that.
      await waitUntil(
        async () => {
          const { keys } = (await http(server.host, "/parties/main/persisted")).json();
          const updates = keys.filter((k) => k.startsWith('"v1"#"persisted"#"update"#'));
          return updates.length === 1 && !updates[0].includes("#000000000#") && keys.some((k) => k.startsWith('"v1_sv"'));
        },
        { timeout: 10_000, what: "the compacted snapshot in storage" },
      );
      await server.restart();
      const c = await join("persisted", "c");
      await textIs(c, "kept across restarts");
      leave(c);
    },
  );
});
