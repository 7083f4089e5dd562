// The dependencies of the cluster tests, for real: etcd (one member and three) and PostgreSQL 15
// start on loopback, answer (an etcd put and range over the v3 JSON gateway; `SELECT 1` through
// psql), pause and resume, and are gone by pid after stop.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { etcdMissing, etcdPut, etcdRange, startEtcd } from "./lib/etcd.mjs";
import { postgresMissing, psql, startPostgres } from "./lib/postgres.mjs";
import { pidAlive, sleep, waitFor } from "./lib/proc.mjs";

const started = [];
after(async () => {
  for (const s of started) await s.stop().catch(() => {});
});

describe("cluster test dependencies", { timeout: 120_000 }, () => {
  test("etcd: starts, answers put/range over the JSON gateway, pauses, stops by pid", { skip: etcdMissing() ?? false }, async () => {
    const etcd = await startEtcd();
    started.push(etcd);
    await etcdPut(etcd.url, "/partyd-test/a", "1");
    await etcdPut(etcd.url, "/partyd-test/b", "two");
    const kvs = await etcdRange(etcd.url, "/partyd-test/");
    const got = Object.fromEntries(kvs.map((kv) => [kv.key, kv.value]));
    assert.equal(got["/partyd-test/a"], "1");
    assert.equal(got["/partyd-test/b"], "two");
    assert.ok(kvs.every((kv) => kv.createRevision > 0));

    etcd.pause();
    await assert.rejects(etcdPut(etcd.url, "/partyd-test/c", "x"), "a paused etcd must not answer");
    etcd.resume();
    await etcdPut(etcd.url, "/partyd-test/c", "3");

    const pids = etcd.pids();
    assert.equal(pids.length, 1);
    await etcd.stop();
    assert.ok(pids.every((p) => !pidAlive(p)), `etcd pids ${pids} still alive after stop`);
  });

  test("etcd: three members, one killed, the other two keep a quorum; it rejoins", { skip: etcdMissing() ?? false }, async () => {
    const etcd = await startEtcd({ members: 3 });
    started.push(etcd);
    assert.equal(etcd.pids().length, 3);
    await etcdPut(etcd.urls[0], "/partyd-test/x", "1");
    etcd.kill9(0);
    await etcd.members[0].proc.exited;
    // A new leader may need an election first (election timeout 1 s).
    await waitFor(() => etcdPut(etcd.urls[1], "/partyd-test/x", "2"), { timeout: 10_000, what: "a put on the two members left" });
    const kvs = await etcdRange(etcd.urls[2], "/partyd-test/x");
    assert.equal(kvs[0].value, "2");
    await etcd.restart(0);
    assert.equal((await etcdRange(etcd.urls[0], "/partyd-test/x"))[0].value, "2");
    const pids = etcd.pids();
    await etcd.stop();
    assert.ok(pids.every((p) => !pidAlive(p)), `etcd pids ${pids} still alive after stop`);
  });

  test("PostgreSQL: starts as the postgres user, SELECT 1, pauses, restarts, stops by pid", { skip: postgresMissing() ?? false }, async () => {
    const pg = await startPostgres();
    started.push(pg);
    assert.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/partyd$/);
    assert.equal(psql(pg.url, "SELECT 1").stdout, "1");
    pg.query("CREATE TABLE t(k int primary key, v text); INSERT INTO t VALUES (1, 'one')");

    pg.pause();
    const paused = psql(pg.url, "SELECT 1", { timeout: 1500 });
    assert.notEqual(paused.status, 0, "a paused PostgreSQL must not answer");
    pg.resume();
    assert.equal(psql(pg.url, "SELECT v FROM t WHERE k = 1").stdout, "one");

    pg.kill9();
    await pg.proc.exited;
    await pg.restart();
    assert.equal(psql(pg.url, "SELECT v FROM t WHERE k = 1").stdout, "one", "committed row lost across kill -9");

    const pids = pg.pids();
    assert.ok(pids.length >= 2, `expected the postmaster and its workers, got ${pids}`);
    await pg.stop();
    await sleep(100);
    assert.ok(pids.every((p) => !pidAlive(p)), `postgres pids ${pids.filter(pidAlive)} still alive after stop`);
  });
});
