// Cluster mode without PostgreSQL. (1) PostgreSQL stopped under a counter load: no incr is
// acknowledged while it is down (nothing is acknowledged before its commit), clients get clear
// errors (an HTTP error status with a message), and service resumes through every node when it
// returns. (2) PostgreSQL paused (SIGSTOP of every postgres process): the output gate holds, so
// nothing is acknowledged until it resumes. Both histories are checked for linearizability.
// Skip while `partyd serve` has no --cluster.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clearErrors, firstOk, showOps, startWorkload, verifyCounters } from "./lib/client.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { sleep } from "./lib/proc.mjs";

const skip = clusterSkipReason() ?? false;
const TTL = 2;
const OUTAGE_MS = 5000;
const RESUME_MS = 30_000;
const IN_FLIGHT_MS = 300; // a commit answered just before the stop may still be on its way

describe("cluster: PostgreSQL down", { timeout: 300_000 }, () => {
  test("PostgreSQL stopped: nothing acknowledged, clear errors, service resumes", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: TTL }, async ({ pg, cluster, nodes, log }) => {
      const rooms = [0, 1, 2].map((i) => `pg${i}-${Date.now()}`);
      const h = new History();
      for (const r of rooms) await firstOk(h, nodes[0].host, r, { since: Date.now(), timeout: 20_000 });
      const load = startWorkload(h, { hosts: cluster.hosts(), rooms, clients: 3, interval: 100, timeout: 4000 });
      let tDown;
      let tUp;
      try {
        await sleep(1500);
        const tStopping = h.now();
        await pg.stopServer();
        tDown = h.now();
        log(`PostgreSQL stopped (${(tDown - tStopping).toFixed(0)} ms to shut down)`);
        await sleep(OUTAGE_MS);
        tUp = h.now();
        await pg.restart();
        const t0 = Date.now();
        for (const n of nodes) {
          for (const r of rooms) await firstOk(h, n.host, r, { since: t0, timeout: RESUME_MS });
        }
        log(`every node served every room again ${Date.now() - t0} ms after PostgreSQL returned`);
        await sleep(1000);
      } finally {
        await load.stop();
      }
      const acked = h.ops.filter((o) => o.type === "ok" && o.complete > tDown + IN_FLIGHT_MS && o.complete < tUp);
      assert.equal(acked.length, 0, `incrs acknowledged while PostgreSQL was down:\n  ${showOps(acked)}`);
      const during = h.ops.filter((o) => o.invoke > tDown && o.invoke < tUp);
      const clear = clearErrors(during);
      log(`during the outage: ${during.length} incrs, ${clear.length} clear errors, e.g.\n  ${showOps(clear, 3)}`);
      assert.ok(clear.length > 0, `no clear error while PostgreSQL was down; what clients got:\n  ${showOps(during)}`);
      await verifyCounters(h, cluster.hosts(), rooms, { log });
    }));

  test("PostgreSQL paused: the output gate holds every acknowledgement until it resumes", { skip }, (t) =>
    withCluster(t, { n: 3, ttl: TTL }, async ({ pg, cluster, nodes, log }) => {
      const rooms = [0, 1].map((i) => `pgstop${i}-${Date.now()}`);
      const h = new History();
      for (const r of rooms) await firstOk(h, nodes[0].host, r, { since: Date.now(), timeout: 20_000 });
      const load = startWorkload(h, { hosts: cluster.hosts(), rooms, clients: 3, interval: 100, timeout: 10_000 });
      let tPause;
      let tResume;
      try {
        await sleep(1500);
        pg.pause();
        tPause = h.now();
        await sleep(3000);
        tResume = h.now();
        pg.resume();
        const t0 = Date.now();
        for (const n of nodes) await firstOk(h, n.host, rooms[0], { since: t0, timeout: RESUME_MS });
        await sleep(1000);
      } finally {
        pg.resume();
        await load.stop();
      }
      const acked = h.ops.filter((o) => o.type === "ok" && o.complete > tPause + IN_FLIGHT_MS && o.complete < tResume);
      assert.equal(acked.length, 0, `incrs acknowledged while PostgreSQL was paused:\n  ${showOps(acked)}`);
      const held = h.ops.filter((o) => o.invoke > tPause && o.invoke < tResume && o.type === "ok");
      log(`${held.length} incrs invoked during the pause were acknowledged after it`);
      await verifyCounters(h, cluster.hosts(), rooms, { log });
    }));
});
