// Cluster mode, the zombie owner. Two cases:
//
// 1. SIGSTOP of a room's owner for longer than the lease TTL, then SIGCONT. Meanwhile another node
//    takes the room over (higher epoch). Writes that were waiting in the old owner's room are
//    refused: either the old owner notices first that its lease is over (its clock says so at
//    once) and drops the room, or they reach PostgreSQL and the fence refuses them. Which one wins
//    is a race between two threads of the old owner; both are safe, and the test counts both.
// 2. The same owner, paused briefly (well inside its lease), has its lease revoked in etcd behind
//    its back; another node takes the room over; etcd is paused, so the old owner cannot learn it;
//    then the old owner resumes, still believing it owns the room. Its waiting writes reach
//    PostgreSQL and must be refused by the fence: partyd_fenced_writes_rejected_total rises.
//
// In both: no refused write is stored (each carries a mark, checked in the room's storage), the
// old owner stops serving the room, and the counter history is linearizable.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstOk, incrOp, request, showOps, startWorkload, verifyCounters } from "./lib/client.mjs";
import { etcdCall, etcdRange } from "./lib/etcd.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { sleep } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;
const TTL = 2;
const PAUSE_MS = TTL * 1000 * 2 + 2000; // well past the lease and the takeover
const STALE = 6;
const STALE_DELAY_MS = 1500;
// Case 2's lease: long enough that the old owner's own clock does not end it during the test.
const ZOMBIE_TTL = 6;

describe("cluster: a paused owner is fenced", { timeout: 300_000 }, () => {
  test("writes of an owner paused past its lease are rejected after the takeover", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: TTL }, async ({ cluster, nodes, log }) => {
      const room = `zombie-${Date.now()}`;
      const rooms = [room, `other-${Date.now()}`];
      const h = new History();
      for (const r of rooms) await firstOk(h, nodes[0].host, r, { since: Date.now(), timeout: 20_000 });
      const owner = await cluster.ownerOf(room);
      assert.ok(owner, "no owner key for the room");
      const old = cluster.nodeAt(owner.addr);
      const others = nodes.filter((n) => n !== old);
      const before = (await old.metric("partyd_fenced_writes_rejected_total")) ?? 0;
      const selfBefore = (await old.metric("partyd_cluster_self_fence_total")) ?? 0;

      // The load goes through the nodes not paused; what it had in flight at the paused owner waits
      // there (long client timeout) and meets the fence after SIGCONT.
      const load = startWorkload(h, { hosts: () => cluster.liveHosts(), rooms, clients: 3, interval: 100, timeout: PAUSE_MS + 5000 });
      let stale;
      try {
        await sleep(1000);
        // Writes sent straight to the owner, each with a mark stored with it, that wait in the room
        // (a timer of STALE_DELAY_MS) before they write: the owner is paused while they wait, as a
        // process stopped mid-operation (a GC pause, a stalled VM) after it checked that it owns
        // the room. They write after SIGCONT, when another node owns the room.
        stale = Array.from({ length: STALE }, (_, i) =>
          incrOp(h, "stale", old.host, room, { mark: `stale${i}`, delay: STALE_DELAY_MS, timeout: PAUSE_MS + 10_000 }));
        await sleep(STALE_DELAY_MS / 3);
        const tPause = Date.now();
        old.pause();
        const { ms, op } = await firstOk(h, others[0].host, room, { since: tPause, timeout: 30_000 });
        log(`took over through ${others[0].host} after ${ms} ms, value ${op.value}`);
        const now = await cluster.ownerOf(room);
        assert.ok(now && now.addr !== old.host, `the room is still owned by the paused node: ${JSON.stringify(now)}`);
        assert.ok(now.epoch > owner.epoch, `epoch did not rise (${owner.epoch} -> ${now.epoch})`);
        await sleep(Math.max(0, tPause + PAUSE_MS - Date.now()));
        old.resume();
        log(`resumed ${old.host} after ${Date.now() - tPause} ms paused`);
        stale = await Promise.all(stale);
        await sleep(2000);
      } finally {
        old.resume();
        await load.stop();
      }

      const fenced = ((await old.metric("partyd_fenced_writes_rejected_total")) ?? 0) - before;
      const selfFenced = ((await old.metric("partyd_cluster_self_fence_total")) ?? 0) - selfBefore;
      log(`on the old owner: partyd_fenced_writes_rejected_total rose by ${fenced}, partyd_cluster_self_fence_total by ${selfFenced}`);
      log(`writes sent to the paused owner:\n  ${showOps(stale)}`);
      assert.ok(fenced > 0 || selfFenced > 0, "the old owner neither fenced itself nor had a write refused by the fence");
      const acked = stale.filter((op) => op.type === "ok");
      assert.equal(acked.length, 0, `writes that waited at the paused owner were acknowledged:\n  ${showOps(acked)}`);

      await checkAfter({ h, cluster, rooms, room, old, other: others[0], stale, log });
    }));

  test("a zombie owner that believes it still owns the room is refused by the PostgreSQL fence", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: ZOMBIE_TTL }, async ({ cluster, nodes, etcd, log }) => {
      const room = `revoked-${Date.now()}`;
      const rooms = [room];
      const h = new History();
      await firstOk(h, nodes[0].host, room, { since: Date.now(), timeout: 20_000 });
      const owner = await cluster.ownerOf(room);
      assert.ok(owner, "no owner key for the room");
      const old = cluster.nodeAt(owner.addr);
      const others = nodes.filter((n) => n !== old);
      const before = (await old.metric("partyd_fenced_writes_rejected_total")) ?? 0;
      const [ownerKv] = (await etcdRange(etcd.liveUrl, owner.key)).filter((kv) => kv.key === owner.key);
      assert.ok(ownerKv && ownerKv.lease !== "0", "the owner key has no lease");

      let stale = Array.from({ length: STALE }, (_, i) =>
        incrOp(h, "stale", old.host, room, { mark: `stale${i}`, delay: STALE_DELAY_MS, timeout: 30_000 }));
      await sleep(STALE_DELAY_MS / 3);
      old.pause();
      let etcdPaused = false;
      try {
        await etcdCall(etcd.liveUrl, "/v3/lease/revoke", { ID: ownerKv.lease });
        const { ms, op } = await firstOk(h, others[0].host, room, { since: Date.now(), timeout: 10_000 });
        const now = await cluster.ownerOf(room);
        log(`lease of ${old.host} revoked; ${now?.addr} took over after ${ms} ms (value ${op.value}, epoch ${owner.epoch} -> ${now?.epoch})`);
        assert.ok(now && now.addr !== old.host && now.epoch > owner.epoch, `no takeover: ${JSON.stringify(now)}`);
        // The old owner must not hear of it from etcd before its writes are made.
        etcd.pause(0);
        etcdPaused = true;
        old.resume();
        // Its waiting writes are due within STALE_DELAY_MS; then etcd comes back.
        await sleep(STALE_DELAY_MS + 500);
      } finally {
        old.resume();
        if (etcdPaused) etcd.resume(0);
      }
      stale = await Promise.all(stale);
      const fenced = ((await old.metric("partyd_fenced_writes_rejected_total")) ?? 0) - before;
      log(`partyd_fenced_writes_rejected_total on the old owner rose by ${fenced}`);
      log(`writes made by the zombie owner:\n  ${showOps(stale)}`);
      assert.ok(fenced > 0, "the zombie owner's writes after the takeover were not refused by the fence");
      const acked = stale.filter((op) => op.type === "ok");
      assert.equal(acked.length, 0, `the zombie owner acknowledged writes:\n  ${showOps(acked)}`);
      await cluster.waitMembers(3, 30_000);
      await checkAfter({ h, cluster, rooms, room, old, other: others[0], stale, log });
    }));
});

// The old owner no longer serves the room (through it, reads reach the new instance), the history
// is linearizable, nothing of the refused writes is stored and what was acknowledged is.
async function checkAfter({ h, cluster, rooms, room, old, other, stale, log }) {
  const res = await verifyCounters(h, cluster.hosts(), rooms, { log });
  assert.ok(res.valid);
  const viaNew = (await request(other.host, `/parties/main/${room}?marks=1`)).json();
  const viaOld = (await request(old.host, `/parties/main/${room}?marks=1`)).json();
  assert.equal(viaOld.instance, viaNew.instance, "the old owner still serves its own instance of the room");
  assert.equal(viaOld.value, viaNew.value);
  for (const op of stale) {
    const stored = viaNew.marks[op.mark];
    if (op.type === "ok") assert.equal(stored, op.value, `acknowledged ${op.mark} is not stored with its value`);
    else if (op.status !== undefined && op.status !== 200) {
      assert.equal(stored, undefined, `${op.mark} was answered ${op.status} but is stored (value ${stored})`);
    }
  }
}
