// Room lifecycle: a room with no connections and no work is evicted after --idle-timeout; it loses
// its memory state and keeps its storage, and the next request runs onStart again.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { IS_EXTERNAL, IS_PARTYKIT, http, startServer } from "../harness.mjs";

let server;
before(async () => {
  if (IS_PARTYKIT || IS_EXTERNAL) return;
  server = await startServer("robust", { args: ["--idle-timeout", "1"] });
});
after(async () => {
  await server?.stop();
});

describe("eviction", { timeout: 30_000, skip: (IS_PARTYKIT || IS_EXTERNAL) && "partyd's --idle-timeout" }, () => {
  test("an idle room is evicted and built again (onStart runs again) on the next request", async () => {
    const first = await http(server.host, "/parties/main/ev");
    const before = Number(/starts=(\d+)/.exec(first.text)[1]);
    const again = await http(server.host, "/parties/main/ev");
    assert.equal(Number(/starts=(\d+)/.exec(again.text)[1]), before, "a busy room is not rebuilt");
    await sleep(2500);
    const later = await http(server.host, "/parties/main/ev");
    assert.ok(Number(/starts=(\d+)/.exec(later.text)[1]) > before, "onStart ran again after eviction");
  });
});
