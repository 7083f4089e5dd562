// Cluster mode, the zombie owner: SIGSTOP of a room's owner for longer than the lease TTL, then
// SIGCONT. Meanwhile another node takes the room over (higher epoch). Writes that were waiting at
// the old owner are attempted after the takeover and must be refused by the PostgreSQL fence:
// partyd_fenced_writes_rejected_total on its admin /metrics is > 0, no refused write is stored
// (each carries a mark, checked in the room's storage), the old owner stops serving the room,
// and the counter history is linearizable. Skips while `partyd serve` has no --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstOk, incrOp, request, showOps, startWorkload, verifyCounters } from "./lib/client.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { sleep } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;
const TTL = 2;
const PAUSE_MS = TTL * 1000 * 2 + 2000; // well past the lease and the takeover
const STALE = 6;

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

      // The load goes through the nodes not paused; what it had in flight at the paused owner waits
      // there (long client timeout) and meets the fence after SIGCONT.
      const load = startWorkload(h, { hosts: () => cluster.liveHosts(), rooms, clients: 3, interval: 100, timeout: PAUSE_MS + 5000 });
      let stale;
      try {
        await sleep(1000);
        const tPause = Date.now();
        old.pause();
        // Writes sent straight to the paused owner, each with a mark stored with it.
        stale = Array.from({ length: STALE }, (_, i) =>
          incrOp(h, "stale", old.host, room, { mark: `stale${i}`, timeout: PAUSE_MS + 10_000 }));
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
      log(`partyd_fenced_writes_rejected_total on the old owner rose by ${fenced}`);
      log(`writes sent to the paused owner:\n  ${showOps(stale)}`);
      assert.ok(fenced > 0, "the old owner reported no fenced write: its writes after the takeover were not refused by the fence");

      // The old owner no longer serves the room: through it, reads reach the new instance.
      const res = await verifyCounters(h, cluster.hosts(), rooms, { log });
      assert.ok(res.valid);
      const viaNew = (await request(others[0].host, `/parties/main/${room}?marks=1`)).json();
      const viaOld = (await request(old.host, `/parties/main/${room}?marks=1`)).json();
      assert.equal(viaOld.instance, viaNew.instance, "the old owner still serves its own instance of the room");
      assert.equal(viaOld.value, viaNew.value);

      // Nothing of the refused writes is stored; what was acknowledged is.
      for (const op of stale) {
        const stored = viaNew.marks[op.mark];
        if (op.type === "ok") assert.equal(stored, op.value, `acknowledged ${op.mark} is not stored with its value`);
        else if (op.status !== undefined && op.status !== 200) {
          assert.equal(stored, undefined, `${op.mark} was answered ${op.status} but is stored (value ${stored})`);
        }
      }
    }));
});
