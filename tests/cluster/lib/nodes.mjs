// partyd nodes in cluster mode for the tests, on 127.0.0.11, .12, .13 (any 127/8 address binds
// on Linux with no setup), each with its own client port, admin port and data dir, all on the
// same etcd and PostgreSQL. The command line is the contract of issue 12 (CLUSTER-PLAN.md):
//
//   partyd serve --cluster etcd=URL[,URL…] --storage postgres://USER@127.0.0.1:P/DB
//     --advertise 127.0.0.1X:PORT --address 127.0.0.1X --port PORT [--region R] [--lease-ttl S]
//     [--cluster-name NAME] --threads 1 --data DIR --admin 127.0.0.1X:APORT --admin-token T PROJECTDIR
//
// A node is ready when it prints "Ready on" and its client port accepts a connection. The
// cluster is formed when etcd holds one node record per live node under
// /partyd/<cluster-name>/nodes/.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { etcdMissing, etcdRange, startEtcd } from "./etcd.mjs";
import { postgresMissing, startPostgres } from "./postgres.mjs";
import { fatal, freePort, sleep, startProcess, tmpDir, waitFor } from "./proc.mjs";

const LIB_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CLUSTER_DIR = path.resolve(LIB_DIR, "..");
export const PROJECT_DIR = path.join(CLUSTER_DIR, "project");
export const PARTYD = process.env.PARTYD ?? path.resolve(CLUSTER_DIR, "..", "..", "build", "partyd");
export const ADMIN_TOKEN = "cluster-test-token-0123456789";
export const NODE_ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15"];

let supportCache;
/** Why the cluster tests of partyd nodes cannot run here (a reason for t.skip), or null. */
export function clusterSkipReason() {
  if (supportCache !== undefined) return supportCache;
  supportCache = null;
  if (!fs.existsSync(PARTYD)) {
    supportCache = `no partyd binary at ${PARTYD} (build it, or set PARTYD)`;
  } else {
    // `serve --help` (today an unknown option that prints the usage), then the top-level usage.
    const help = (args) => {
      const r = spawnSync(PARTYD, args, { encoding: "utf8", timeout: 10_000 });
      return `${r.stdout}${r.stderr}`;
    };
    if (!help(["serve", "--help"]).includes("--cluster") && !help(["--help"]).includes("--cluster")) {
      supportCache = "partyd serve --help does not list --cluster: cluster mode (issue 12) is not in this build";
    }
  }
  supportCache ??= etcdMissing() ?? postgresMissing();
  return supportCache;
}

/** Sums the samples of a Prometheus metric family in `text` whose labels include `labels`. */
export function metricValue(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  return found ? sum : null;
}

function canConnect(host, port, localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/**
 * Starts `n` nodes on an existing etcd and PostgreSQL.
 * opts: { etcd, pg, n = 3, ttl = 2, clusterName, regions: [..], project, extraArgs, clientAddress }
 * Returns { nodes, clusterName, hosts(), liveHosts(), waitMembers(k), ownerOf(room), logs(), stop() }.
 */
export async function startNodes({ etcd, pg, n = 3, ttl = 2, clusterName, regions = [], project = PROJECT_DIR,
                                   extraArgs = [], clientAddress } = {}) {
  clusterName ??= `t${process.pid}x${Date.now() % 100000}`;
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const address = NODE_ADDRESSES[i];
    const dataDir = tmpDir(`partyd-node${i + 1}-`);
    // Each node serves its own copy of the project: nodes started together on one folder race on
    // its .partykit/build output ("esbuild reported success but wrote no …/bundle.js").
    const projectCopy = path.join(dataDir, "project");
    fs.cpSync(project, projectCopy, { recursive: true, filter: (src) => !src.includes(`${path.sep}.partykit`) });
    nodes.push(makeNode({ index: i, address, port: await freePort(address), adminPort: await freePort(address),
                          dataDir: path.join(dataDir, "data"), rootDir: dataDir, etcd, pg, ttl, clusterName,
                          region: regions[i], project: projectCopy, extraArgs, clientAddress }));
  }
  const cluster = {
    nodes,
    clusterName,
    ttl,
    hosts: () => nodes.map((x) => x.host),
    liveHosts: () => nodes.filter((x) => x.running && !x.paused).map((x) => x.host),
    logs: () => nodes.map((x) => `--- node ${x.index + 1} ${x.host} ---\n${x.logs().slice(-20_000)}`).join("\n"),
    /** The node records in etcd, as parsed JSON. */
    async members() {
      const kvs = await etcdRange(etcd.liveUrl, `/partyd/${clusterName}/nodes/`);
      return kvs.map((kv) => JSON.parse(kv.value));
    },
    /** Waits until etcd holds exactly `k` node records (default: the running nodes). */
    async waitMembers(k, timeout = 15_000) {
      return waitFor(async () => {
        const want = k ?? nodes.filter((x) => x.running).length;
        const m = await cluster.members();
        return m.length === want && m;
      }, { timeout, interval: 100, what: `${k ?? "all running"} node records in etcd` });
    },
    /**
     * The owner record of a room of the test project: { key, node, addr, epoch } from etcd, or null.
     * The project part of the key is not matched (its encoding belongs to cluster mode).
     */
    async ownerOf(room, party = "main") {
      const kvs = await etcdRange(etcd.liveUrl, `/partyd/${clusterName}/rooms/`);
      const suffix = `/${encodeURIComponent(party)}/${encodeURIComponent(room)}`;
      const hit = kvs.filter((kv) => kv.key.endsWith(suffix));
      if (hit.length > 1) throw new Error(`room ${room} has ${hit.length} owner keys: ${hit.map((h) => h.key)}`);
      if (!hit.length) return null;
      const v = JSON.parse(hit[0].value);
      return { key: hit[0].key, node: v.node, addr: v.addr, epoch: hit[0].createRevision };
    },
    /**
     * The fencing epoch of a room in PostgreSQL's room_owner (CLUSTER-PLAN.md), looked up in every
     * schema that has that table; null if no row. Throws if two schemas disagree.
     */
    pgEpoch(room, party = "main") {
      const schemas = pg.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'room_owner'")
        .split("\n").filter(Boolean);
      if (!schemas.length) throw new Error("no room_owner table in PostgreSQL");
      const lit = (x) => `'${String(x).replaceAll("'", "''")}'`;
      const epochs = schemas.flatMap((sc) =>
        pg.query(`SELECT epoch FROM "${sc.replaceAll('"', '""')}".room_owner WHERE party = ${lit(party)} AND room = ${lit(room)}`)
          .split("\n").filter(Boolean).map(Number));
      if (epochs.length > 1) throw new Error(`room ${room} has ${epochs.length} room_owner rows: ${epochs}`);
      return epochs.length ? epochs[0] : null;
    },
    /** The test node whose advertised address is `addr`. */
    nodeAt(addr) {
      return nodes.find((x) => x.host === addr) ?? null;
    },
    async stop() {
      await Promise.all(nodes.map((x) => x.stop()));
      for (const x of nodes) fs.rmSync(x.rootDir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((x) => x.start()));
    await cluster.waitMembers(n);
  } catch (e) {
    await cluster.stop();
    throw new Error(`${e.message}\n${cluster.logs()}`, { cause: e });
  }
  return cluster;
}

function makeNode({ index, address, port, adminPort, dataDir, rootDir, etcd, pg, ttl, clusterName, region, project, extraArgs, clientAddress }) {
  const args = () => [
    "serve",
    "--cluster", `etcd=${etcd.urls.join(",")}`,
    "--storage", pg.url,
    "--advertise", `${address}:${port}`,
    "--address", address,
    "--port", String(port),
    ...(region ? ["--region", region] : []),
    "--lease-ttl", String(ttl),
    "--cluster-name", clusterName,
    "--threads", "1",
    "--data", dataDir,
    "--admin", `${address}:${adminPort}`,
    "--admin-token", ADMIN_TOKEN,
    ...extraArgs,
    project,
  ];
  let proc = null;
  let previous = "";
  const node = {
    index,
    name: `node${index + 1}`,
    address,
    port,
    adminPort,
    dataDir,
    rootDir,
    project,
    host: `${address}:${port}`,
    adminHost: `${address}:${adminPort}`,
    paused: false,
    get pid() {
      return proc?.pid;
    },
    get running() {
      return !!proc?.running;
    },
    get exited() {
      return proc?.exited;
    },
    logs: () => previous + (proc?.logs() ?? ""),
    /** False while the test has killed or stopped it on purpose. */
    expectedUp: true,
    async start() {
      node.expectedUp = true;
      proc = startProcess(node.name, PARTYD, args(), { env: { ...process.env, NO_COLOR: "1" } });
      node.paused = false;
      await waitFor(async () => {
        if (!proc.running) throw fatal(`${node.name} exited (${JSON.stringify(await proc.exited)}) before ready`);
        return proc.logs().includes("Ready on") && (await canConnect(address, port, clientAddress));
      }, { timeout: 30_000, interval: 100, what: `${node.name} ready on ${node.host}` });
    },
    /** kill -9; resolves when the process is gone. */
    async kill9() {
      node.expectedUp = false;
      proc.signal("SIGKILL");
      await proc.exited;
      node.paused = false;
    },
    pause() {
      proc.signal("SIGSTOP");
      node.paused = true;
    },
    resume() {
      proc.signal("SIGCONT");
      node.paused = false;
    },
    /** Stops it if running (SIGTERM, then SIGKILL), then starts it again on the same ports and data dir. */
    async restart() {
      node.expectedUp = false;
      if (proc) {
        await proc.stop();
        previous += proc.logs() + `\n--- ${node.name} restarted ---\n`;
      }
      await node.start();
    },
    async stop() {
      node.expectedUp = false;
      if (proc) await proc.stop({ timeout: 5000 });
    },
    /** The admin /metrics text (with the admin token). */
    async metricsText(timeout = 3000) {
      const res = await fetch(`http://${node.adminHost}/metrics`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: AbortSignal.timeout(timeout),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${node.name} admin /metrics: ${res.status} ${text.slice(0, 300)}`);
      return text;
    },
    async metric(name, labels) {
      return metricValue(await node.metricsText(), name, labels);
    },
  };
  return node;
}

/**
 * The whole fixture of one test: etcd, PostgreSQL and `n` nodes. `fn(env)` runs with
 * env = { etcd, pg, cluster, nodes, log(msg) }. Everything is stopped afterwards, also when
 * `fn` throws; then the tails of every log are attached to the error (and written to
 * $TMPDIR/partyd-cluster-<test>-<time>.log).
 */
export async function withCluster(t, opts, fn) {
  const started = [];
  const env = { log: (msg) => t.diagnostic(msg) };
  const t0 = Date.now();
  try {
    env.etcd = await startEtcd({ members: opts.etcdMembers ?? 1 });
    started.push(env.etcd);
    env.pg = await startPostgres();
    started.push(env.pg);
    env.cluster = await startNodes({ etcd: env.etcd, pg: env.pg, ...opts });
    started.push(env.cluster);
    env.nodes = env.cluster.nodes;
    await fn(env);
    // A node that died without the test killing it is a failure (a crash under faults).
    const died = env.nodes.filter((x) => x.expectedUp && !x.running);
    if (died.length) {
      const how = await Promise.all(died.map(async (x) => `${x.name} ${JSON.stringify(await x.exited)}`));
      throw new Error(`nodes exited that the test did not stop: ${how.join(", ")}`);
    }
  } catch (e) {
    const logs = [
      env.cluster?.logs() ?? "",
      `--- etcd ---\n${env.etcd?.logs().slice(-6000) ?? ""}`,
      `--- postgres ---\n${env.pg?.logs().slice(-6000) ?? ""}`,
    ].join("\n");
    const file = path.join(process.env.TMPDIR ?? "/tmp", `partyd-cluster-${t.name.replace(/\W+/g, "_").slice(0, 40)}-${t0}.log`);
    try {
      fs.writeFileSync(file, `${e.stack}\n\n${logs}`);
    } catch {}
    // node:test prints the stack, which holds the message as it was when the error was made.
    const err = new Error(`${e.message}\n(all logs: ${file})\n${logs.slice(-15_000)}`, { cause: e });
    err.stack = `${err.message}\n${(e.stack ?? "").split("\n").slice(1).join("\n")}`;
    throw err;
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
}

export { sleep };
