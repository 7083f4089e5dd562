// Cluster mode, a network partition: one node (127.0.0.12) is cut off from etcd, PostgreSQL and
// the other nodes by iptables rules, inside a network namespace of its own (the test re-runs
// itself under `unshare -n`, so the rules touch nothing outside). Clients connect from
// 127.0.0.100, which stays reachable on both sides. The isolated node must stop acknowledging
// writes once its lease can have expired (no double activation); the majority takes its rooms
// over within the bound; after the heal it rejoins, every node serves every room, and the counter
// history is linearizable. Nodes must bind their outgoing sockets to their own address, or the
// rules cannot tell them apart. Skips without root, unshare or iptables, and while `partyd serve`
// has no --cluster.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { clearErrors, firstOk, incrOp, showOps, startWorkload, verifyCounters } from "./lib/client.mjs";
import { History } from "./lib/history.mjs";
import { clusterSkipReason, withCluster } from "./lib/nodes.mjs";
import { sleep } from "./lib/proc.mjs";

const TTL = 2;
const BOUND_MS = TTL * 1000 + 4000;
const PARTITION_MS = TTL * 1000 * 2 + 3000;
const CLIENT = "127.0.0.100";
const SELF = fileURLToPath(import.meta.url);
const IN_NETNS = process.env.PARTYD_TEST_NETNS === "1";

function netnsSkipReason() {
  if (process.getuid() !== 0) return "the partition test needs root (unshare -n and iptables)";
  if (spawnSync("unshare", ["-n", "true"]).status !== 0) return "unshare -n does not work here";
  const ipt = spawnSync("unshare", ["-n", "sh", "-c", "iptables -A INPUT -s 127.0.0.2 -j DROP"], { encoding: "utf8" });
  if (ipt.status !== 0) return `iptables does not work in a network namespace: ${(ipt.stderr || ipt.error?.message || "").trim()}`;
  return null;
}

function iptables(...args) {
  const r = spawnSync("iptables", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`iptables ${args.join(" ")}: ${r.stderr}`);
}

/** Drops every packet between `addr` and each of `peers`, both ways; returns the heal function. */
function isolate(addr, peers) {
  const rules = peers.flatMap((p) => [["-s", addr, "-d", p], ["-s", p, "-d", addr]]);
  for (const r of rules) iptables("-A", "INPUT", ...r, "-j", "DROP");
  return () => {
    for (const r of rules) iptables("-D", "INPUT", ...r, "-j", "DROP");
  };
}

describe("cluster: a partition isolating one node", { timeout: 400_000 }, () => {
  if (!IN_NETNS) {
    // Outside: run this file again in a fresh network namespace and report its outcome.
    test("partition (in a network namespace of its own)", async (t) => {
      const why = netnsSkipReason() ?? clusterSkipReason();
      if (why) return t.skip(why);
      const child = spawn("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$0" --test --test-reporter=tap "$1"',
                                      process.execPath, SELF], {
        // Without NODE_TEST_CONTEXT: the child is a test run of its own, not a file of this one.
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")),
               PARTYD_TEST_NETNS: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const code = await new Promise((r) => child.on("close", r));
      for (const line of out.split("\n").filter((l) => /^\s*# /.test(l) && !/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms)/.test(l.trim()))) {
        t.diagnostic(line.trim().slice(2));
      }
      const skipped = /# SKIP (.*)/.exec(out);
      if (code === 0 && /# pass 0/.test(out) && skipped) return t.skip(skipped[1]);
      assert.equal(code, 0, `the partition test failed in its namespace:\n${out.slice(-30_000)}`);
      assert.match(out, /# pass 1/, out.slice(-5000));
    });
    return;
  }

  test("the isolated node fences itself, the majority takes over, all heal", { skip: clusterSkipReason() ?? false }, (t) =>
    withCluster(t, { n: 3, ttl: TTL, clientAddress: CLIENT }, async ({ cluster, nodes, log }) => {
      const lone = nodes[1];
      const majority = nodes.filter((n) => n !== lone);
      const h = new History();
      // Rooms: two owned by the node to be isolated, one owned by the majority.
      const loneRooms = [];
      const otherRooms = [];
      for (let i = 0; i < 40 && (loneRooms.length < 2 || otherRooms.length < 1); i++) {
        const room = `part${i}-${Date.now()}`;
        const op = await incrOp(h, "setup", lone.host, room, { localAddress: CLIENT, timeout: 10_000 });
        assert.equal(op.type, "ok", `setup incr through ${lone.host}: ${op.error}`);
        const owner = await cluster.ownerOf(room);
        if (owner?.addr === lone.host && loneRooms.length < 2) loneRooms.push(room);
        else if (owner && owner.addr !== lone.host && otherRooms.length < 1) otherRooms.push(room);
      }
      assert.equal(loneRooms.length, 2, `no 2 rooms placed on ${lone.host} among 40`);
      const rooms = [...loneRooms, ...otherRooms];
      const load = startWorkload(h, { hosts: cluster.hosts(), rooms, clients: 3, interval: 100, timeout: 4000, localAddress: CLIENT });
      let tPart;
      let tHeal;
      let heal = null;
      try {
        await sleep(1500);
        heal = isolate(lone.address, ["127.0.0.1", ...majority.map((n) => n.address)]);
        tPart = h.now();
        const t0 = Date.now();
        log(`isolated ${lone.address} at ${tPart.toFixed(0)} ms`);
        const { ms } = await firstOk(h, majority[0].host, loneRooms[0], { since: t0, timeout: 30_000, localAddress: CLIENT });
        log(`the majority acknowledged ${loneRooms[0]} again after ${ms} ms (bound ${BOUND_MS} ms)`);
        console.log(`partition takeover time: ${ms} ms (TTL ${TTL} s, bound ${BOUND_MS} ms)`);
        assert.ok(ms <= BOUND_MS, `takeover after ${ms} ms, over the bound ${BOUND_MS} ms`);
        await sleep(Math.max(0, t0 + PARTITION_MS - Date.now()));
        tHeal = h.now();
        heal();
        heal = null;
        log(`healed at ${tHeal.toFixed(0)} ms`);
        await cluster.waitMembers(3, 30_000);
        const t1 = Date.now();
        for (const n of nodes) {
          for (const r of rooms) await firstOk(h, n.host, r, { since: t1, timeout: 30_000, localAddress: CLIENT });
        }
        log(`every node served every room ${Date.now() - t1} ms after the heal`);
        await sleep(1000);
      } finally {
        heal?.();
        await load.stop();
      }
      const fenceBy = tPart + TTL * 1000 + 500;
      const stale = h.ops.filter((o) => o.node === lone.host && o.type === "ok" && o.invoke > fenceBy && o.complete < tHeal);
      assert.equal(stale.length, 0, `the isolated node acknowledged incrs after its lease had to be given up:\n  ${showOps(stale)}`);
      const during = h.ops.filter((o) => o.node === lone.host && o.invoke > fenceBy && o.invoke < tHeal);
      log(`through the isolated node during the partition: ${during.length} incrs, ${clearErrors(during).length} clear errors`);
      assert.ok(clearErrors(during).length > 0, `the isolated node gave no clear error:\n  ${showOps(during)}`);
      await verifyCounters(h, cluster.hosts(), rooms, { log, localAddress: CLIENT });
    }));
});
