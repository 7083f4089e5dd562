// Cluster mode without etcd. (1) etcd stopped under a counter load: every node must stop serving
// (self-fence) before its lease could have expired, so no incr is acknowledged after TTL + a small
// margin while etcd is down; clients get clear errors (an HTTP error status with a message), not
// silence; when etcd returns, service resumes through every node, and the history is
// linearizable (no double activation, no lost acknowledged write). (2) Three etcd members, one
// killed: the nodes fail over to the others and keep serving. Skip while `partyd serve` has no
// --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clearErrors, firstOk, showOps, startWorkload, verifyCounters } from "./lib/client.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { sleep } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;
const TTL = 2;
const FENCE_SLACK_MS = 500; // a node fences at t_sent + T - margin; this is the test's tolerance
const OUTAGE_MS = TTL * 1000 + 5000;
const RESUME_MS = 30_000;

describe("cluster: etcd down", { timeout: 300_000 }, () => {
  test("etcd stopped: nodes self-fence with clear errors, and resume when it returns", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: TTL }, async ({ etcd, cluster, nodes, log }) => {
      const rooms = [0, 1, 2].map((i) => `etcd${i}-${Date.now()}`);
      const h = new History();
      for (const r of rooms) await firstOk(h, nodes[0].host, r, { since: Date.now(), timeout: 20_000 });
      const load = startWorkload(h, { hosts: cluster.hosts(), rooms, clients: 3, interval: 100, timeout: 4000 });
      let tStop;
      let tBack;
      try {
        await sleep(1500);
        await etcd.stopMember(0);
        tStop = h.now();
        log(`etcd stopped at ${tStop.toFixed(0)} ms`);
        await sleep(OUTAGE_MS);
        tBack = h.now();
        await etcd.restart(0);
        log(`etcd back at ${h.now().toFixed(0)} ms`);
        const t0 = Date.now();
        for (const n of nodes) {
          for (const r of rooms) await firstOk(h, n.host, r, { since: t0, timeout: RESUME_MS });
        }
        log(`every node served every room again ${Date.now() - t0} ms after etcd returned`);
        await sleep(1000);
      } finally {
        await load.stop();
      }
      const fenceBy = tStop + TTL * 1000 + FENCE_SLACK_MS;
      const late = h.ops.filter((o) => o.type === "ok" && o.invoke > fenceBy && o.complete < tBack);
      assert.equal(late.length, 0, `incrs acknowledged while etcd was down, after every lease had to be given up:\n  ${showOps(late)}`);
      const during = h.ops.filter((o) => o.invoke > fenceBy && o.invoke < tBack);
      const clear = clearErrors(during);
      log(`during the outage: ${during.length} incrs, ${clear.length} clear errors, e.g.\n  ${showOps(clear, 3)}`);
      assert.ok(clear.length > 0, `no clear error while etcd was down; what clients got:\n  ${showOps(during)}`);
      await verifyCounters(h, cluster.hosts(), rooms, { log });
    }));

  test("one of three etcd members killed: the nodes keep serving through the others", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: TTL, etcdMembers: 3 }, async ({ etcd, cluster, nodes, log }) => {
      const rooms = [0, 1].map((i) => `etcd3m${i}-${Date.now()}`);
      const h = new History();
      for (const r of rooms) await firstOk(h, nodes[0].host, r, { since: Date.now(), timeout: 20_000 });
      const load = startWorkload(h, { hosts: cluster.hosts(), rooms, clients: 3, interval: 100, timeout: 4000 });
      let tKill;
      try {
        await sleep(1500);
        etcd.kill9(0);
        tKill = h.now();
        await sleep(TTL * 1000 * 5);
        await cluster.waitMembers(3, 5000); // every node still registered
      } finally {
        await load.stop();
      }
      const after = h.ops.filter((o) => o.invoke > tKill + TTL * 1000 * 2);
      const oks = after.filter((o) => o.type === "ok");
      log(`after the member died: ${oks.length} of ${after.length} incrs acknowledged`);
      assert.ok(oks.length > 0 && oks.length >= after.length * 0.9,
                `the nodes did not keep serving on the other two members:\n  ${showOps(after.filter((o) => o.type !== "ok"))}`);
      await verifyCounters(h, cluster.hosts(), rooms, { log });
    }));
});
