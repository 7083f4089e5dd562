// Cluster mode, one live instance per room: a counter room reached through each of three nodes is
// the same instance. PartySocket clients on all three nodes see one instance id and every
// increment; HTTP through each node continues the same count; etcd holds one owner key for it.
// Skips while `partyd serve` has no --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { finalRead, incrOp, partySocket } from "./lib/client.mjs";
import { History, assertLinearizable } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { waitFor } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;
const PER_CLIENT = 10;

describe("cluster: one instance per room", { timeout: 240_000 }, () => {
  test("a counter reached through every node is one instance", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: 2 }, async ({ cluster, nodes, log }) => {
      const room = `same-${Date.now()}`;
      const clients = [];
      try {
        // One PartySocket per node.
        for (const n of nodes) clients.push(await partySocket(n.host, room));
        await waitFor(() => clients.every((c) => c.messages.some((m) => m.type === "state")),
                      { timeout: 20_000, what: "the state message on every node's PartySocket" });
        const instances = new Set(clients.map((c) => c.messages.find((m) => m.type === "state").instance));
        assert.equal(instances.size, 1, `three nodes reached ${instances.size} instances: ${[...instances]}`);
        const [instance] = instances;

        const owner = await cluster.ownerOf(room);
        assert.ok(owner, "no owner key in etcd for the room");
        assert.ok(cluster.nodeAt(owner.addr), `the owner ${owner.addr} is not one of the nodes ${cluster.hosts()}`);
        log(`room ${room} owned by ${owner.addr} (epoch ${owner.epoch})`);

        // Every client increments; every client sees every increment of the one counter.
        for (let i = 0; i < PER_CLIENT; i++) {
          for (const [k, c] of clients.entries()) c.socket.send(JSON.stringify({ incr: `${k}-${i}` }));
        }
        const total = PER_CLIENT * clients.length;
        await waitFor(() => clients.every((c) => c.messages.filter((m) => m.type === "count").length >= total),
                      { timeout: 20_000, what: `${total} counts on every client` });
        for (const [k, c] of clients.entries()) {
          const counts = c.messages.filter((m) => m.type === "count");
          assert.deepEqual(counts.map((m) => m.value), Array.from({ length: total }, (_, i) => i + 1),
                           `client through ${nodes[k].host} saw the counts out of order or with gaps`);
          assert.ok(counts.every((m) => m.instance === instance), `client through ${nodes[k].host} saw another instance`);
          const acks = c.messages.filter((m) => m.type === "ack");
          assert.equal(acks.length, PER_CLIENT, `client through ${nodes[k].host}: ${acks.length} acks`);
        }

        // HTTP through each node continues the same count, in real-time order.
        const h = new History();
        for (let i = 0; i < 3; i++) {
          for (const n of nodes) {
            const op = await incrOp(h, `http-${n.index}`, n.host, room);
            assert.equal(op.type, "ok", `incr through ${n.host}: ${op.error}`);
            assert.equal(op.instance, instance, `incr through ${n.host} reached another instance`);
          }
        }
        const oks = h.ops.map((o) => o.value);
        assert.deepEqual(oks, Array.from({ length: 9 }, (_, i) => total + i + 1));
        const final = await finalRead(cluster.hosts(), room);
        assert.equal(final.value, total + 9);
        assert.equal(final.instance, instance);
        assertLinearizable(h, {}); // the HTTP part alone (the WebSocket incrs are not in it)

        const again = await cluster.ownerOf(room);
        assert.equal(again.addr, owner.addr, "the room moved while its owner was healthy");
        assert.equal(again.epoch, owner.epoch);
      } finally {
        for (const c of clients) c.socket.close();
      }
    }));
});
