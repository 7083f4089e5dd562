// etcd for the cluster tests: Debian's /usr/bin/etcd (package etcd-server, 3.4) on 127.0.0.1
// with free ports and a temp data dir, one member or three. Talks to it over the v3 JSON
// gateway (plain HTTP, keys and values base64), as partyd does.
import fs from "node:fs";
import { fatal, freePort, pidAlive, sleep, startProcess, tmpDir, waitFor } from "./proc.mjs";

export const ETCD_BIN = process.env.ETCD_BIN ?? "/usr/bin/etcd";

/** Why etcd cannot run here, or null. */
export function etcdMissing() {
  return fs.existsSync(ETCD_BIN) ? null : `no etcd at ${ETCD_BIN} (apt-get install etcd-server, or scripts/cluster_deps.sh)`;
}

const b64 = (s) => Buffer.from(s).toString("base64");
const unb64 = (s) => Buffer.from(s ?? "", "base64").toString();

/** POSTs JSON to an etcd v3 gateway endpoint; returns the parsed answer. */
export async function etcdCall(url, path, body, { timeout = 3000 } = {}) {
  let res;
  let text;
  try {
    res = await fetch(url + path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(timeout),
    });
    text = await res.text();
  } catch (e) {
    throw new Error(`etcd ${url}${path}: ${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? e.cause})` : ""}`);
  }
  if (res.status !== 200) throw new Error(`etcd ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** put(key, value) over the gateway. */
export async function etcdPut(url, key, value) {
  return etcdCall(url, "/v3/kv/put", { key: b64(key), value: b64(value) });
}

/** Every key under `prefix` as [{key, value, createRevision, lease}]. */
export async function etcdRange(url, prefix) {
  const end = Buffer.from(prefix);
  end[end.length - 1] += 1;
  const r = await etcdCall(url, "/v3/kv/range", { key: b64(prefix), range_end: end.toString("base64") });
  return (r.kvs ?? []).map((kv) => ({
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: Number(kv.create_revision ?? 0),
    lease: kv.lease ?? "0",
  }));
}

/**
 * Starts etcd: `members` = 1 (default) or 3, on 127.0.0.1.
 * Returns { url (first member's client URL), urls, members: [{name, url, proc}], stop(), kill9(i),
 *           pause(i), resume(i), restart(i), logs() }.
 */
export async function startEtcd(options = {}) {
  // freePort's ports can be taken before etcd binds them (an outgoing connection draws its local
  // port from the same range): a member that could not bind is a reason to try fresh ports, not
  // a failed test.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(e.message)) throw e;
    }
  }
}

async function startEtcdOnce({ members = 1, host = "127.0.0.1", timeout = 20_000 } = {}) {
  const missing = etcdMissing();
  if (missing) throw new Error(missing);
  const dir = tmpDir("partyd-etcd-");
  const specs = [];
  for (let i = 0; i < members; i++) {
    specs.push({ name: `e${i}`, client: await freePort(host), peer: await freePort(host) });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://${host}:${s.peer}`).join(",");
  const launch = (s, state) =>
    startProcess(`etcd-${s.name}`, ETCD_BIN, [
      "--name", s.name,
      "--data-dir", `${dir}/${s.name}`,
      "--listen-client-urls", `http://${host}:${s.client}`,
      "--advertise-client-urls", `http://${host}:${s.client}`,
      "--listen-peer-urls", `http://${host}:${s.peer}`,
      "--initial-advertise-peer-urls", `http://${host}:${s.peer}`,
      "--initial-cluster", initialCluster,
      "--initial-cluster-state", state,
      "--initial-cluster-token", `partyd-test-${process.pid}`,
      "--heartbeat-interval", "100",
      "--election-timeout", "1000",
    ], { env: process.arch === "x64" ? process.env : { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } });
  const etcd = {
    dir,
    members: specs.map((s) => ({ name: s.name, url: `http://${host}:${s.client}`, spec: s, proc: null })),
    get url() {
      return etcd.members[0].url;
    },
    get urls() {
      return etcd.members.map((m) => m.url);
    },
    /** The client URL of the first member that is running and not paused (for the tests' own reads). */
    get liveUrl() {
      return (etcd.members.find((m) => m.proc?.running && !m.paused) ?? etcd.members[0]).url;
    },
    logs() {
      return etcd.members.map((m) => `--- ${m.name} (${m.url}) ---\n${m.proc?.logs() ?? ""}`).join("\n");
    },
    /** Resolves once member i answers /version and a put through it succeeds. */
    async ready(i = 0, ms = timeout) {
      const m = etcd.members[i];
      await waitFor(async () => {
        if (!m.proc.running) throw fatal(`etcd ${m.name} exited:\n${m.proc.logs().slice(-3000)}`);
        const v = await fetch(`${m.url}/version`, { signal: AbortSignal.timeout(1000) });
        if (v.status !== 200) return false;
        await etcdPut(m.url, "/partyd-test/ready", String(Date.now()));
        return true;
      }, { timeout: ms, interval: 100, what: `etcd ${m.name} at ${m.url}` });
    },
    pids() {
      return etcd.members.filter((m) => m.proc?.running).map((m) => m.proc.pid);
    },
    kill9(i = 0) {
      return etcd.members[i].proc.signal("SIGKILL");
    },
    pause(i = 0) {
      etcd.members[i].paused = true;
      return etcd.members[i].proc.signal("SIGSTOP");
    },
    resume(i = 0) {
      etcd.members[i].paused = false;
      return etcd.members[i].proc.signal("SIGCONT");
    },
    /** Stops member i (SIGTERM, then SIGKILL) and waits for it to be gone. */
    async stopMember(i = 0) {
      await etcd.members[i].proc.stop();
    },
    /** Starts member i again on the same ports and data dir. */
    async restart(i = 0) {
      const m = etcd.members[i];
      if (m.proc?.running) await m.proc.stop();
      m.proc = launch(m.spec, "existing");
      await etcd.ready(i);
    },
    async stop() {
      await Promise.all(etcd.members.map((m) => m.proc?.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const m of etcd.members) m.proc = launch(m.spec, "new");
  try {
    // A 3-member cluster needs a quorum before any member answers a put.
    await Promise.all(etcd.members.map((_, i) => etcd.ready(i)));
  } catch (e) {
    const logs = etcd.logs();
    await etcd.stop();
    e.message += `\n${logs.slice(-6000)}`;
    throw e;
  }
  return etcd;
}

export { pidAlive, sleep };
