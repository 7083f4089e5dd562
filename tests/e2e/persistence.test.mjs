// Persistence across a server restart: with a persist directory, room storage written before
// the stop is read back after the start; without one, a restart begins empty.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, test } from "node:test";
import { decode, encode } from "../fixtures/storage/src/codec.js";
import { IS_EXTERNAL, IS_PARTYKIT, http, startServer, tmpDir } from "../harness.mjs";

const skip = IS_EXTERNAL && "needs to restart the server";

async function call(host, room, method, ...args) {
  const r = await http(host, `/parties/main/${room}/call`, {
    method: "POST",
    body: JSON.stringify({ method, args: args.map(encode) }),
  });
  const j = r.json();
  if (j.error) throw new Error(j.error.message);
  return decode(j.result);
}

const servers = [];
const dirs = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("persistence", { timeout: 120_000, skip }, () => {
  test("storage written before a restart is read back after it", async () => {
    const dir = tmpDir();
    dirs.push(dir);
    const server = await startServer("storage", { persist: dir });
    servers.push(server);
    const value = { when: new Date(Date.UTC(2022, 0, 2)), tags: new Set(["a"]), n: 7n, nested: { list: [1, 2] } };
    await call(server.host, "p1", "put", { k1: value, k2: "second" });
    await call(server.host, "p2", "put", "other-room", 1);
    await call(server.host, "p1", "put", "gone", 1);
    assert.equal(await call(server.host, "p1", "delete", "gone"), true);

    await server.restart();

    assert.deepEqual(await call(server.host, "p1", "get", "k1"), value);
    assert.deepEqual([...(await call(server.host, "p1", "list")).keys()], ["k1", "k2"]);
    assert.equal(await call(server.host, "p2", "get", "other-room"), 1);

    // And again, to show the second run wrote to the same place.
    await call(server.host, "p1", "put", "k3", "third");
    await server.restart();
    assert.deepEqual([...(await call(server.host, "p1", "list")).keys()], ["k1", "k2", "k3"]);
  });

  test(
    "--sync full: the shard files are fsynced per commit, and what was acknowledged survives a SIGKILL",
    { skip: skip || (IS_PARTYKIT && "a partyd flag") },
    async () => {
      const dir = tmpDir();
      dirs.push(dir);
      const server = await startServer("storage", { persist: dir, args: ["--sync", "full"] });
      servers.push(server);
      assert.match(server.logs(), /fsync per commit/);
      await call(server.host, "sf", "put", "acked", "yes");
      server.kill("SIGKILL");
      await server.exited;
      await server.restart();
      assert.equal(await call(server.host, "sf", "get", "acked"), "yes");
    },
  );

  test(
    "a pending alarm survives a restart",
    { skip: skip || (IS_PARTYKIT && "partykit dev (miniflare) keeps alarms in memory: getAlarm() is null after a restart") },
    async () => {
      const dir = tmpDir();
      dirs.push(dir);
      const server = await startServer("storage", { persist: dir });
      servers.push(server);
      const alarmAt = Date.now() + 3_600_000;
      await call(server.host, "pa", "setAlarm", alarmAt);
      await server.restart();
      assert.equal(await call(server.host, "pa", "getAlarm"), alarmAt);
      await call(server.host, "pa", "deleteAlarm");
      await server.restart();
      assert.equal(await call(server.host, "pa", "getAlarm"), null);
    },
  );

  test("without a persist directory a restart starts empty", async () => {
    const server = await startServer("storage");
    servers.push(server);
    await call(server.host, "np", "put", "k", "v");
    assert.equal(await call(server.host, "np", "get", "k"), "v");
    await server.restart();
    assert.equal(await call(server.host, "np", "get", "k"), undefined);
  });
});
