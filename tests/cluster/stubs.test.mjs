// Cluster mode, party to party across nodes: a room's party stubs (room.context.parties) reach a
// room that another node owns. A stub's socket() gets past the target party's onBeforeConnect
// (as PartyKit's stubs do) although it goes out through another node's listener; a stub's fetch()
// reaches the owner; a router party's onBeforeConnect that returns a stub's fetch() of the
// upgrade puts the client's socket into a room on another node. The relay party is
// project/src/relay.js. Skips while `partyd serve` has no --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { incrOp, request } from "./lib/client.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { waitFor } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;

async function get(host, path) {
  const r = await request(host, path, { timeout: 20_000 });
  let body = null;
  try {
    body = r.json();
  } catch {}
  return { status: r.status, text: r.text, body };
}

describe("cluster: party stubs across nodes", { timeout: 240_000 }, () => {
  test("stub socket, stub fetch and a router's upgrade reach rooms on other nodes", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: 2 }, async ({ cluster, nodes, log }) => {
      const stamp = Date.now();
      // The relay room, owned by a node X other than node 1, and first reached through node 1:
      // X's isolate then names node 1 as its host (the Host of its first request), so the room's
      // stubs open their sockets from X to node 1, another process, which must let them past the
      // target's onBeforeConnect (the cluster shares partyd's internal secret).
      let relayRoom = null;
      let relayOwner = null;
      for (let i = 0; !relayRoom && i < 40; i++) {
        const room = `relay${i}-${stamp}`;
        const r = await get(nodes[0].host, `/parties/relay/${room}`);
        assert.equal(r.status, 200, r.text);
        const owner = (await cluster.ownerOf(room, "relay"))?.addr;
        assert.ok(owner, `no owner of the relay room ${room}`);
        if (owner !== nodes[0].host) [relayRoom, relayOwner] = [room, owner];
      }
      assert.ok(relayRoom, "every relay room landed on node 1");
      const via = nodes[0];
      // Counter rooms owned by a node other than X.
      const h = new History();
      const targets = [];
      for (let i = 0; targets.length < 3 && i < 60; i++) {
        const room = `target${i}-${stamp}`;
        const op = await incrOp(h, "setup", nodes[0].host, room, { timeout: 15_000 });
        assert.equal(op.type, "ok", `incr of ${room}: ${op.error}`);
        const owner = await cluster.ownerOf(room);
        if (owner.addr !== relayOwner) targets.push({ room, owner: owner.addr, instance: op.instance, value: op.value });
      }
      assert.equal(targets.length, 3, "could not find counter rooms owned away from the relay's owner");
      log(`relay room ${relayRoom} on ${relayOwner}, asked through ${via.host}; targets on ${targets.map((x) => x.owner)}`);

      // The gate works: a client's own socket with ?gated=1 is refused by main's onBeforeConnect.
      const refused = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://${via.host}/parties/main/${targets[0].room}/stub?gated=1`);
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => {});
      });
      assert.equal(refused, 403, "the gate let a client's own socket in");

      // 1. A stub's socket(), gated: it must get in, reach the one instance, and increment it.
      const a = targets[0];
      const s = await get(via.host, `/parties/relay/${relayRoom}?socket=${a.room}&gated=1`);
      assert.equal(s.status, 200, `stub socket across nodes: ${s.text}`);
      assert.equal(s.body.state.instance, a.instance, "the stub's socket reached another instance of the room");
      assert.equal(s.body.state.value, a.value);
      assert.equal(s.body.ack.value, a.value + 1);
      // And it is the same room for everyone: the next incr continues from there.
      const after = await incrOp(h, "check", nodes[0].host, a.room);
      assert.equal(after.type, "ok");
      assert.equal(after.value, a.value + 2);
      assert.equal(after.instance, a.instance);

      // 2. A stub's fetch() to a room on another node.
      const b = targets[1];
      const f = await get(via.host, `/parties/relay/${relayRoom}?fetch=${b.room}`);
      assert.equal(f.status, 200, `stub fetch across nodes: ${f.text}`);
      assert.equal(f.body.instance, b.instance);
      assert.equal(f.body.value, b.value + 1);

      // 3. A router: the relay's onBeforeConnect returns main/T's fetch() of the upgrade. The
      // client connects through a node that owns neither room.
      const c = targets[2];
      const client = nodes.find((n) => n.host !== relayOwner && n.host !== c.owner) ?? via;
      const ws = new WebSocket(`ws://${client.host}/parties/relay/${relayRoom}?to=${c.room}`);
      const got = [];
      ws.on("message", (m) => got.push(JSON.parse(String(m))));
      ws.on("error", () => {});
      try {
        const state = await waitFor(() => got.find((m) => m.type === "state"),
                                    { timeout: 20_000, what: "the routed socket's state message" });
        assert.equal(state.instance, c.instance, "the routed socket reached another instance");
        ws.send(JSON.stringify({ incr: "routed" }));
        const ack = await waitFor(() => got.find((m) => m.type === "ack" && m.id === "routed"),
                                  { timeout: 10_000, what: "the routed socket's ack" });
        assert.equal(ack.value, c.value + 1);
      } finally {
        ws.close();
      }
    }));
});
