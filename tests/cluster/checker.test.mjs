// The history checker of the cluster tests (lib/history.mjs), on synthetic histories: valid
// ones pass (hand-written, and 300 random linearizable ones), and each kind of violation is caught.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { History, checkCounter } from "./lib/history.mjs";

// op(id, f, invoke, complete, type, value): a hand-written operation on key "r".
let nextId = 0;
function op(f, invoke, complete, type, value = null, key = "r") {
  return { id: nextId++, process: 0, f, key, invoke, complete, type, value };
}
const incr = (a, b, type, v) => op("incr", a, b, type, v);
const read = (a, b, v) => op("read", a, b, "ok", v);
const kinds = (r) => r.errors.map((e) => e.kind);

// A random linearizable counter history: each op takes effect at a random point inside its
// interval; an info op may or may not take effect; a fail op never does.
function randomHistory(rng, { clients = 4, perClient = 30, infoRate = 0.1, failRate = 0.05, readRate = 0.2 } = {}) {
  const ops = [];
  for (let c = 0; c < clients; c++) {
    let t = rng() * 5;
    for (let i = 0; i < perClient; i++) {
      const invoke = t + rng() * 3;
      const complete = invoke + 0.1 + rng() * 8;
      const at = invoke + rng() * (complete - invoke);
      const f = rng() < readRate ? "read" : "incr";
      const r = rng();
      const type = f === "read" ? "ok" : r < failRate ? "fail" : r < failRate + infoRate ? "info" : "ok";
      const applies = f === "incr" && (type === "ok" || (type === "info" && rng() < 0.5));
      ops.push({ id: ops.length, process: c, f, key: "r", invoke, complete: type === "info" && rng() < 0.3 ? null : complete,
                 type: type === "info" && rng() < 0.3 ? null : type, value: null, at, applies });
      t = complete;
    }
  }
  let counter = 0;
  for (const o of [...ops].sort((a, b) => a.at - b.at)) {
    if (o.applies) counter++;
    if (o.type === "ok") o.value = counter;
  }
  return { ops, final: counter };
}

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("counter history checker", () => {
  test("a sequential history passes", () => {
    const ops = [incr(0, 1, "ok", 1), incr(2, 3, "ok", 2), read(4, 5, 2), incr(6, 7, "ok", 3)];
    const r = checkCounter(ops, { r: 3 });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.stats.r, { ok: 3, info: 0, fail: 0, final: 3 });
  });

  test("concurrent incrs may take either order", () => {
    const ops = [incr(0, 10, "ok", 2), incr(1, 9, "ok", 1), incr(11, 12, "ok", 3)];
    assert.deepEqual(checkCounter(ops, { r: 3 }).errors, []);
  });

  test("info and pending incrs widen the final range; fails do not", () => {
    const ops = [incr(0, 1, "ok", 1), incr(2, 3, "info"), incr(4, null, null), incr(5, 6, "fail"), incr(7, 8, "ok", 3)];
    for (const final of [2, 3, 4]) assert.deepEqual(checkCounter(ops, { r: final }).errors.filter((e) => e.kind !== "lost-write"), []);
    assert.deepEqual(checkCounter(ops, { r: 3 }).errors, []);
    assert.deepEqual(checkCounter(ops, { r: 4 }).errors, []);
    assert.deepEqual(kinds(checkCounter(ops, { r: 5 })), ["final-too-high"]);
  });

  test("the History recorder produces checkable ops", async () => {
    const h = new History();
    const a = h.invoke(1, "incr", "k");
    await new Promise((r) => setTimeout(r, 2));
    h.ok(a, 1);
    const b = h.invoke(2, "incr", "k");
    h.info(b, new Error("timeout"));
    const c = h.invoke(3, "incr", "k");
    h.fail(c, "ECONNREFUSED");
    h.invoke(4, "incr", "k"); // pending
    assert.ok(a.complete > a.invoke && b.invoke >= a.complete);
    assert.throws(() => h.ok(a, 2), /completed twice/);
    assert.deepEqual(h.summary(), { k: { ok: 1, fail: 1, info: 1, pending: 1 } });
    const r = checkCounter(h.ops, { k: 2 });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.stats.k, { ok: 1, info: 2, fail: 1, final: 2 });
  });

  test("300 random linearizable histories pass", () => {
    const rng = mulberry32(12);
    for (let i = 0; i < 300; i++) {
      const { ops, final } = randomHistory(rng);
      const r = checkCounter(ops, { r: final });
      assert.deepEqual(r.errors, [], `random history ${i} rejected`);
    }
  });

  test("catches a duplicate value (two acknowledged incrs saw the same counter)", () => {
    const ops = [incr(0, 10, "ok", 1), incr(1, 9, "ok", 1)];
    assert.ok(kinds(checkCounter(ops, {})).includes("duplicate-value"));
  });

  test("catches broken real-time order (a later incr got a lower value)", () => {
    const ops = [incr(0, 1, "ok", 2), incr(2, 3, "ok", 1)];
    assert.deepEqual(kinds(checkCounter(ops, { r: 2 })), ["real-time-order"]);
  });

  test("catches a lost acknowledged write (final read below #ok, or below an ok value)", () => {
    const ops = [incr(0, 1, "ok", 1), incr(2, 3, "ok", 2), incr(4, 5, "ok", 3)];
    const r = checkCounter(ops, { r: 2 });
    assert.ok(kinds(r).includes("lost-write"));
    assert.ok(r.errors.some((e) => /op \d+ .*value 3.* final read is 2/.test(e.message)), JSON.stringify(r.errors));
    // #ok is reached thanks to an info op, but an acknowledged value is above the final read
    const ops2 = [incr(0, 1, "ok", 1), incr(2, 3, "info"), incr(4, 5, "ok", 3)];
    assert.deepEqual(kinds(checkCounter(ops2, { r: 2 })), ["lost-write"]);
  });

  test("catches a final read too high (a failed incr was applied)", () => {
    const ops = [incr(0, 1, "ok", 1), incr(2, 3, "fail"), incr(4, 5, "ok", 2)];
    assert.deepEqual(kinds(checkCounter(ops, { r: 3 })), ["final-too-high"]);
  });

  test("catches a stale read and a read of writes never made", () => {
    assert.deepEqual(kinds(checkCounter([incr(0, 1, "ok", 1), incr(2, 3, "ok", 2), read(4, 5, 1)], { r: 2 })), ["read-too-low"]);
    assert.deepEqual(kinds(checkCounter([incr(0, 9, "info"), incr(0, 9, "info"), read(1, 2, 2), read(3, 4, 1)], {})), ["read-too-low"]);
    assert.deepEqual(kinds(checkCounter([incr(0, 1, "ok", 1), read(2, 3, 2)], {})), ["read-too-high"]);
  });

  test("keys are checked separately", () => {
    const ops = [op("incr", 0, 1, "ok", 1, "a"), op("incr", 2, 3, "ok", 1, "b")];
    assert.deepEqual(checkCounter(ops, { a: 1, b: 1 }).errors, []);
  });

  test("random histories with one violation injected are all caught", () => {
    const rng = mulberry32(99);
    let caught = { dup: 0, order: 0, lost: 0, high: 0 };
    for (let i = 0; i < 100; i++) {
      const { ops, final } = randomHistory(rng, { readRate: 0 });
      const oks = ops.filter((o) => o.type === "ok" && o.f === "incr").sort((a, b) => a.value - b.value);
      if (oks.length < 3) continue;
      // duplicate: one ok takes another's value
      const dup = structuredClone(ops);
      const [x, y] = [dup[oks[0].id], dup[oks[1].id]];
      y.value = x.value;
      assert.ok(kinds(checkCounter(dup, {})).includes("duplicate-value"), `dup ${i}`);
      caught.dup++;
      // order: the last two oks in value order, made strictly sequential, swap values
      const ord = structuredClone(ops);
      const [p, q] = [ord[oks.at(-2).id], ord[oks.at(-1).id]];
      const t = Math.max(p.complete, q.complete) + 1;
      Object.assign(p, { invoke: t, complete: t + 1 });
      Object.assign(q, { invoke: t + 2, complete: t + 3 });
      [p.value, q.value] = [q.value, p.value];
      assert.ok(kinds(checkCounter(ord, {})).includes("real-time-order"), `order ${i}`);
      caught.order++;
      // lost: the final read is one short of the highest ok value
      assert.ok(kinds(checkCounter(ops, { r: oks.at(-1).value - 1 })).includes("lost-write"), `lost ${i}`);
      caught.lost++;
      // too high: more than ok + info
      const infos = ops.filter((o) => o.f === "incr" && (o.type === "info" || o.type === null)).length;
      assert.ok(kinds(checkCounter(ops, { r: oks.length + infos + 1 })).includes("final-too-high"), `high ${i}`);
      caught.high++;
      assert.deepEqual(checkCounter(ops, { r: final }).errors, [], `unmutated ${i}`);
    }
    assert.ok(Object.values(caught).every((n) => n > 50), JSON.stringify(caught));
  });
});
