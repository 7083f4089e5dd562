// Cluster mode, placement by region: a room is placed in the region of the node that received
// its first request (rendezvous hashing over that region's live nodes), and keeps that home
// region when it fails over, whichever node receives the request that brings it back. Four
// nodes, two in "us" and two in "eu". Skips while `partyd serve` has no --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstOk, incrOp } from "./lib/client.mjs";
import { etcdRange } from "./lib/etcd.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";

const skip = clusterSkipReason() ?? false;
const REGIONS = ["us", "us", "eu", "eu"];
const ROOMS_PER_REGION = 6;

describe("cluster: placement by region", { timeout: 240_000 }, () => {
  test("rooms stay in the region of their first request, also after their owner dies", { skip }, (t) =>
    withCluster(t, { n: 4, ttl: 2, regions: REGIONS }, async ({ etcd, cluster, nodes, log }) => {
      const regionOf = (addr) => REGIONS[cluster.nodeAt(addr).index];
      const h = new History();
      const stamp = Date.now();
      // First requests: through a "us" node for the us rooms, through an "eu" node for the others.
      const rooms = { us: [], eu: [] };
      for (const region of ["us", "eu"]) {
        const via = nodes[REGIONS.indexOf(region)];
        for (let i = 0; i < ROOMS_PER_REGION; i++) {
          const room = `${region}${i}-${stamp}`;
          const op = await incrOp(h, "first", via.host, room, { timeout: 15_000 });
          assert.equal(op.type, "ok", `first incr of ${room} through ${via.host}: ${op.error}`);
          rooms[region].push(room);
        }
      }
      const homes = await etcdRange(etcd.liveUrl, `/partyd/${cluster.clusterName}/home/`);
      for (const region of ["us", "eu"]) {
        for (const room of rooms[region]) {
          const owner = await cluster.ownerOf(room);
          assert.ok(owner, `no owner of ${room}`);
          assert.equal(regionOf(owner.addr), region, `${room}, first reached through a ${region} node, is owned by ${owner.addr} (${regionOf(owner.addr)})`);
          const home = homes.find((kv) => kv.key.endsWith(`/main/${room}`));
          assert.equal(home?.value, region, `${room}: home region in etcd ${JSON.stringify(home)}`);
        }
      }
      // Later requests through a node of the other region reach the same owner: rooms do not move
      // while their owner is healthy.
      for (const room of [rooms.us[0], rooms.eu[0]]) {
        const before = await cluster.ownerOf(room);
        const via = nodes[REGIONS.indexOf(regionOf(before.addr) === "us" ? "eu" : "us")];
        const op = await incrOp(h, "cross", via.host, room, { timeout: 10_000 });
        assert.equal(op.type, "ok", `incr of ${room} through ${via.host}: ${op.error}`);
        assert.equal((await cluster.ownerOf(room)).epoch, before.epoch, `${room} moved while its owner was healthy`);
      }

      // kill -9 of a us owner; its us rooms come back through an eu node, on the other us node.
      const victimAddr = (await cluster.ownerOf(rooms.us[0])).addr;
      const victim = cluster.nodeAt(victimAddr);
      const orphans = [];
      for (const room of rooms.us) if ((await cluster.ownerOf(room))?.addr === victimAddr) orphans.push(room);
      const otherUs = nodes.find((n) => REGIONS[n.index] === "us" && n !== victim);
      const euNode = nodes[2];
      log(`killing ${victim.host}, owner of ${orphans.length} us rooms; they return through ${euNode.host}`);
      const tKill = Date.now();
      await victim.kill9();
      for (const room of orphans) {
        const { op, ms } = await firstOk(h, euNode.host, room, { since: tKill, timeout: 30_000 });
        const now = await cluster.ownerOf(room);
        assert.ok(now, `no owner of ${room} after the failover`);
        assert.equal(now.addr, otherUs.host,
                     `${room} (home us) came back on ${now.addr} (${regionOf(now.addr)}), not on the live us node ${otherUs.host}`);
        assert.ok(op.value >= 2, `${room} lost its count: ${op.value}`);
        log(`${room} back on ${now.addr} after ${ms} ms, value ${op.value}`);
      }

      // With no live node left in its home region, a room goes anywhere; it keeps its home.
      await otherUs.kill9();
      const room = rooms.us[rooms.us.length - 1];
      const { op } = await firstOk(h, euNode.host, room, { since: Date.now(), timeout: 30_000 });
      assert.ok(op.value >= 2);
      const now = await cluster.ownerOf(room);
      assert.equal(regionOf(now.addr), "eu", `${room} should have fallen back to an eu node: ${now.addr}`);
      const home = (await etcdRange(etcd.liveUrl, `/partyd/${cluster.clusterName}/home/`))
        .find((kv) => kv.key.endsWith(`/main/${room}`));
      assert.equal(home?.value, "us", `${room} lost its home region when placed out of it`);
    }));
});
