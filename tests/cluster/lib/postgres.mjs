// PostgreSQL 15 for the cluster tests: Debian's /usr/lib/postgresql/15/bin, a fresh cluster in a
// temp dir (initdb as the postgres user when the tests run as root: initdb refuses root), trust
// auth, listening on 127.0.0.1 at a free port only, with one database. The postmaster is started
// directly (not through pg_ctl) so its pid is ours to signal; SIGSTOP/SIGCONT go to the
// postmaster and every backend, so a paused server answers nothing.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { childPids, fatal, freePort, pidAlive, startProcess, tmpDir, waitFor } from "./proc.mjs";

export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PSQL = fs.existsSync("/usr/bin/psql") ? "/usr/bin/psql" : path.join(PG_BIN, "psql");

/** Why PostgreSQL cannot run here, or null. */
export function postgresMissing() {
  for (const b of ["initdb", "postgres"]) {
    if (!fs.existsSync(path.join(PG_BIN, b))) {
      return `no ${b} in ${PG_BIN} (apt-get install postgresql-15, or scripts/cluster_deps.sh)`;
    }
  }
  if (process.getuid() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0) {
    return "running as root and there is no postgres user to run initdb as";
  }
  return null;
}

function pgUser() {
  if (process.getuid() !== 0) return null;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
  return { uid, gid };
}

/** Runs psql against `url`; returns { status, out } (out = stdout + stderr). */
export function psql(url, sql, { timeout = 10_000 } = {}) {
  const r = spawnSync(PSQL, ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    timeout,
    encoding: "utf8",
    env: { ...process.env, PGCONNECT_TIMEOUT: "3" },
  });
  return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? ""), stdout: (r.stdout ?? "").trim() };
}

/**
 * Starts PostgreSQL. Returns { url, port, db, user, pid, pids(), query(sql), pause(), resume(),
 * kill9(), stopServer(), restart(), stop(), logs() }. `url` is postgres://postgres@127.0.0.1:P/DB.
 */
export async function startPostgres({ db = "partyd", host = "127.0.0.1", timeout = 30_000 } = {}) {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const dir = tmpDir("partyd-pg-");
  const data = path.join(dir, "data");
  const owner = pgUser();
  const runAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  fs.chmodSync(dir, 0o700);
  const init = spawnSync(
    owner ? "runuser" : path.join(PG_BIN, "initdb"),
    [...(owner ? ["-u", "postgres", "--", path.join(PG_BIN, "initdb")] : []),
     "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (init.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
  }
  const port = await freePort(host);
  const launch = () =>
    startProcess("postgres", path.join(PG_BIN, "postgres"), [
      "-D", data,
      "-p", String(port),
      "-c", `listen_addresses=${host}`,
      "-c", `unix_socket_directories=${dir}`,
      "-c", "fsync=off", // a process crash keeps the OS cache; the tests never crash the machine
      "-c", "max_connections=200",
      "-c", "log_min_messages=warning",
    ], { ...runAs, cwd: dir });
  const url = `postgres://postgres@${host}:${port}/${db}`;
  const adminUrl = `postgres://postgres@${host}:${port}/postgres`;
  const pg = {
    dir,
    port,
    db,
    user: "postgres",
    url,
    proc: null,
    get pid() {
      return pg.proc?.pid;
    },
    /** The postmaster and its backends and workers. */
    pids() {
      if (!pg.proc?.running) return [];
      return [pg.proc.pid, ...childPids(pg.proc.pid)];
    },
    logs: () => pg.proc?.logs() ?? "",
    /** Runs SQL on the test database through psql; throws on an error; returns the rows as text. */
    query(sql) {
      const r = psql(url, sql);
      if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.out}`);
      return r.stdout;
    },
    pause() {
      for (const p of pg.pids()) {
        try {
          process.kill(p, "SIGSTOP");
        } catch {}
      }
    },
    resume() {
      const pids = pg.proc?.running ? [pg.proc.pid, ...childPids(pg.proc.pid)] : [];
      for (const p of pids) {
        try {
          process.kill(p, "SIGCONT");
        } catch {}
      }
    },
    kill9() {
      pg.proc?.signal("SIGKILL");
    },
    /** Fast shutdown (SIGINT: disconnects clients, rolls back), waits until every process is gone. */
    async stopServer() {
      const pids = pg.pids();
      await pg.proc?.stop({ signal: "SIGINT", timeout: 15_000 });
      await waitFor(() => pids.every((p) => !pidAlive(p)), { timeout: 10_000, what: "postgres processes gone" });
    },
    async ready(ms = timeout) {
      await waitFor(() => {
        if (!pg.proc.running) throw fatal(`postgres exited:\n${pg.logs().slice(-3000)}`);
        return psql(adminUrl, "SELECT 1", { timeout: 3000 }).stdout === "1";
      }, { timeout: ms, interval: 100, what: `postgres on ${host}:${port}` });
    },
    /** Starts the server again on the same port and data (after stopServer or kill9). */
    async restart() {
      // After a kill -9 the orphaned backends would keep the old shared memory: end the group.
      if (pg.proc) {
        await (pg.proc.running ? pg.stopServer() : pg.proc.stop());
        // The killed backends must be gone too, or the new postmaster finds their shared memory.
        const group = pg.proc.pid;
        await waitFor(() => {
          try {
            process.kill(-group, 0);
            return false;
          } catch {
            return true;
          }
        }, { timeout: 10_000, what: "the old postgres process group gone" });
      }
      pg.proc = launch();
      await pg.ready();
    },
    async stop() {
      if (pg.proc) await pg.stopServer().catch(() => pg.proc.stop({ signal: "SIGKILL" }));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  pg.proc = launch();
  try {
    await pg.ready();
    const r = psql(adminUrl, `CREATE DATABASE ${db}`);
    if (r.status !== 0) throw new Error(`CREATE DATABASE failed: ${r.out}`);
  } catch (e) {
    const logs = pg.logs();
    await pg.stop();
    e.message += `\n${logs.slice(-4000)}`;
    throw e;
  }
  return pg;
}
