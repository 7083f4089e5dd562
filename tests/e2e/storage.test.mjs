// room.storage, the Durable Object storage API (PARTYKIT-API.md §4, §10.11-12): get/put/delete,
// list options, structured-clone values, limits and their error messages, transactions, alarms,
// and input gates under concurrent requests.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decode, encode } from "../fixtures/storage/src/codec.js";
import { connect, http, startServer } from "../harness.mjs";

let server;
before(async () => {
  server = await startServer("storage");
});
after(async () => {
  await server?.stop();
});

let roomSeq = 0;
/** A fresh room per test, so tests never see each other's keys. */
function freshRoom(name) {
  return `${name}-${process.pid}-${++roomSeq}`;
}

async function op(room, name, body = {}) {
  const r = await http(server.host, `/parties/main/${room}/${name}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  assert.equal(r.status, 200, r.text);
  const j = r.json();
  if (j.error) {
    const e = new Error(j.error.message);
    e.serverName = j.error.name;
    throw e;
  }
  return decode(j.result);
}

/** Calls room.storage[method](...args) in the server. */
function call(room, method, ...args) {
  return op(room, "call", { method, args: args.map(encode) });
}

describe("storage: get, put, delete", { timeout: 30_000 }, () => {
  test("put and get one key; a missing key is undefined", async () => {
    const room = freshRoom("single");
    assert.equal(await call(room, "put", "a", 1), undefined);
    assert.equal(await call(room, "get", "a"), 1);
    assert.equal(await call(room, "get", "missing"), undefined);
    await call(room, "put", "a", "overwritten");
    assert.equal(await call(room, "get", "a"), "overwritten");
  });

  test("put many and get many: a Map of the keys that exist, in key order", async () => {
    const room = freshRoom("many");
    await call(room, "put", { b: "two", a: 1, c: { x: [1, 2] } });
    const m = await call(room, "get", ["c", "zz", "a", "b"]);
    assert.ok(m instanceof Map);
    assert.deepEqual([...m.keys()], ["a", "b", "c"]);
    assert.deepEqual(m, new Map([["a", 1], ["b", "two"], ["c", { x: [1, 2] }]]));
    assert.deepEqual(await call(room, "get", []), new Map());
  });

  test("delete one key: true, then false", async () => {
    const room = freshRoom("del");
    await call(room, "put", "k", 0);
    assert.equal(await call(room, "delete", "k"), true);
    assert.equal(await call(room, "delete", "k"), false);
    assert.equal(await call(room, "get", "k"), undefined);
  });

  test("delete many keys: the number that existed", async () => {
    const room = freshRoom("delmany");
    await call(room, "put", { a: 1, b: 2, c: 3 });
    assert.equal(await call(room, "delete", ["a", "b", "nope"]), 2);
    assert.deepEqual(await call(room, "list"), new Map([["c", 3]]));
  });

  test("deleteAll empties the room's storage", async () => {
    const room = freshRoom("delall");
    await call(room, "put", { a: 1, b: 2 });
    assert.equal(await call(room, "deleteAll"), undefined);
    assert.deepEqual(await call(room, "list"), new Map());
  });

  test("storage is per room", async () => {
    const a = freshRoom("iso");
    const b = freshRoom("iso");
    await call(a, "put", "k", "in a");
    assert.equal(await call(b, "get", "k"), undefined);
    assert.equal(await call(a, "get", "k"), "in a");
  });

  test("null is stored and differs from a missing key", async () => {
    const room = freshRoom("null");
    await call(room, "put", "n", null);
    assert.equal(await call(room, "get", "n"), null);
    assert.equal(await call(room, "get", "missing"), undefined);
    assert.deepEqual(await call(room, "get", ["n", "missing"]), new Map([["n", null]]));
  });

  test("the empty key is allowed", async () => {
    const room = freshRoom("emptykey");
    await call(room, "put", "", "empty");
    assert.equal(await call(room, "get", ""), "empty");
  });
});

describe("storage: list", { timeout: 30_000 }, () => {
  const keys = (m) => [...m.keys()];
  let room;
  before(async () => {
    room = freshRoom("list");
    await call(room, "put", { d: 4, "c/2": 32, a: 1, "c/1": 31, b: 2 });
  });

  test("list() returns everything in ascending key order", async () => {
    const m = await call(room, "list");
    assert.deepEqual(keys(m), ["a", "b", "c/1", "c/2", "d"]);
    assert.equal(m.get("c/2"), 32);
  });

  test("start is inclusive, end exclusive", async () => {
    assert.deepEqual(keys(await call(room, "list", { start: "b", end: "d" })), ["b", "c/1", "c/2"]);
  });

  test("startAfter is exclusive; limit caps the count", async () => {
    assert.deepEqual(keys(await call(room, "list", { startAfter: "b", limit: 2 })), ["c/1", "c/2"]);
  });

  test("reverse with limit takes from the end", async () => {
    assert.deepEqual(keys(await call(room, "list", { reverse: true, limit: 2 })), ["d", "c/2"]);
  });

  test("reverse keeps the meaning of start and end", async () => {
    assert.deepEqual(keys(await call(room, "list", { start: "b", end: "d", reverse: true })), ["c/2", "c/1", "b"]);
  });

  test("prefix filters", async () => {
    assert.deepEqual(keys(await call(room, "list", { prefix: "c/" })), ["c/1", "c/2"]);
    assert.deepEqual(keys(await call(room, "list", { prefix: "c/", reverse: true, limit: 1 })), ["c/2"]);
    assert.deepEqual(keys(await call(room, "list", { prefix: "zz" })), []);
  });

  test("start together with startAfter throws", async () => {
    await assert.rejects(call(room, "list", { start: "a", startAfter: "b" }), {
      message: "list() cannot be called with both start and startAfter values.",
    });
  });

  test("limit 0 throws", async () => {
    await assert.rejects(call(room, "list", { limit: 0 }), { message: "List limit must be positive." });
  });

  test("keys are ordered by their UTF-8 bytes", async () => {
    const r = freshRoom("utf8");
    await call(r, "put", { "😀": 1, "\uFFFF": 2, Z: 3, a: 4, é: 5 });
    assert.deepEqual(keys(await call(r, "list")), ["Z", "a", "é", "\uFFFF", "😀"]);
  });
});

describe("storage: values", { timeout: 30_000 }, () => {
  test("structured-clone values round-trip by type", async () => {
    const room = freshRoom("clone");
    const values = {
      date: new Date(Date.UTC(2021, 5, 7, 8, 9, 10, 11)),
      map: new Map([["k", 1], ["j", { deep: true }]]),
      set: new Set(["x", 2]),
      bigint: 12345678901234567890n,
      bytes: new Uint8Array([0, 1, 254, 255]),
      nested: { a: [1, { b: [null, "s"] }], n: -3.5, t: true },
      array: [1, "two", [3]],
      string: "héllo 😀",
      number: 42,
      nan: NaN,
      infinity: -Infinity,
      negZero: -0,
      regexp: /ab+c/gi,
      bool: false,
      emptyString: "",
    };
    await call(room, "put", values);
    const back = await call(room, "get", Object.keys(values));
    for (const [k, v] of Object.entries(values)) {
      assert.deepEqual(back.get(k), v, k);
    }
    assert.ok(back.get("date") instanceof Date);
    assert.ok(back.get("map") instanceof Map);
    assert.ok(back.get("set") instanceof Set);
    assert.equal(typeof back.get("bigint"), "bigint");
    assert.ok(back.get("bytes") instanceof Uint8Array);
    const all = { ...values, inner: new Map([["d", new Set([new Date(0)])]]) };
    await call(room, "put", "all", all);
    assert.deepEqual(await call(room, "get", "all"), all);
  });

  test("put(key, undefined) throws", async () => {
    const room = freshRoom("undef");
    await assert.rejects(call(room, "put", "k", undefined), { message: "put() called with undefined value." });
  });

  test("a function value cannot be cloned", async () => {
    const room = freshRoom("fn");
    await assert.rejects(call(room, "put", "k", () => {}), /could not be cloned/);
  });

  test("keys up to 2048 bytes are accepted, longer ones throw", async () => {
    const room = freshRoom("bigkey");
    await call(room, "put", "k".repeat(2048), 1);
    assert.equal(await call(room, "get", "k".repeat(2048)), 1);
    await assert.rejects(call(room, "put", "k".repeat(2049), 1), {
      message: "Keys cannot be larger than 2048 bytes. A key of size 2049 was provided.",
    });
    // The limit counts UTF-8 bytes: 683 three-byte chars are 2049 bytes.
    await assert.rejects(call(room, "put", "€".repeat(683), 1), {
      message: "Keys cannot be larger than 2048 bytes. A key of size 2049 was provided.",
    });
  });

  test("values over 131072 serialized bytes throw", async () => {
    const room = freshRoom("bigvalue");
    await call(room, "put", "ok", "v".repeat(131_000));
    assert.equal((await call(room, "get", "ok")).length, 131_000);
    // The check is on the V8-serialized size, with some slack (see README): a 131200-byte
    // string serializes to 131206 bytes.
    await assert.rejects(call(room, "put", "big", "v".repeat(131_200)), {
      message: /^Values cannot be larger than 131072 bytes\. A value of size 1312\d\d was provided\.$/,
    });
    await assert.rejects(call(room, "put", { a: 1, big: "v".repeat(131_200) }), /Values cannot be larger/);
    assert.equal(await call(room, "get", "big"), undefined);
  });

  test("get of more than 128 keys throws", async () => {
    const room = freshRoom("manykeys");
    const keys = Array.from({ length: 129 }, (_, i) => `k${i}`);
    assert.equal((await call(room, "get", keys.slice(0, 128))).size, 0);
    await assert.rejects(call(room, "get", keys), {
      message: "Maximum number of key value pairs is 128. 129 pairs were provided.",
    });
  });
});

describe("storage: transactions", { timeout: 30_000 }, () => {
  test("a transaction commits its writes and returns its value", async () => {
    const room = freshRoom("txn");
    const r = await op(room, "transaction", { mode: "commit", puts: encode({ a: 1, b: 2 }) });
    assert.deepEqual(r, { seen: new Map([["a", 1], ["b", 2]]) }, "the transaction sees its own writes");
    assert.deepEqual(await call(room, "list"), new Map([["a", 1], ["b", 2]]));
  });

  test("throwing inside a transaction discards its writes and rejects", async () => {
    const room = freshRoom("txnthrow");
    await call(room, "put", "a", "before");
    await assert.rejects(op(room, "transaction", { mode: "throw", puts: encode({ a: "during", b: 2 }) }), {
      message: "txn boom",
    });
    assert.deepEqual(await call(room, "list"), new Map([["a", "before"]]));
  });

  test("txn.rollback() discards the writes; the transaction still resolves", async () => {
    const room = freshRoom("txnrollback");
    const r = await op(room, "transaction", { mode: "rollback", puts: encode({ a: 1 }) });
    assert.deepEqual(r, { seen: new Map([["a", 1]]) });
    assert.deepEqual(await call(room, "list"), new Map());
  });
});

describe("storage: alarms", { timeout: 30_000 }, () => {
  test("setAlarm fires onAlarm, which can use storage and getConnection but not room.id", async () => {
    const room = freshRoom("alarm");
    const c = await connect(server.host, { room, id: "watcher" });
    assert.equal(await c.nextMessage(), "hello");
    const before = Date.now();
    const scheduled = await op(room, "arm", { delay: 200, notify: "watcher", payload: { p: 1 } });
    assert.equal(typeof scheduled, "number");
    assert.ok(scheduled >= before + 150 && scheduled <= Date.now() + 250, `alarm at ${scheduled - before} ms`);
    const note = await c.nextJson(10_000);
    assert.equal(note.alarm, true);
    assert.equal(note.fired, 1);
    assert.deepEqual(note.payload, { p: 1 });
    assert.equal(
      note.idError,
      "You can not access `Party.id` in the `onAlarm` handler.\n" +
        "This is a known limitation, and may be fixed in a future version of PartyKit.\n" +
        "If you access to the id, you can save it into the Room storage when setting the alarm.\n",
    );
    assert.ok(Date.now() - before >= 150, "the alarm did not fire early");
    // After it ran, the alarm is gone, and room.id works again outside onAlarm.
    assert.equal(await call(room, "getAlarm"), null);
    assert.equal(await op(room, "roomId"), room);
    await c.closeAndWait();
  });

  test("getAlarm returns the time; deleteAlarm cancels it", async () => {
    const room = freshRoom("alarmdel");
    const at = Date.now() + 60_000;
    await call(room, "setAlarm", at);
    assert.equal(await call(room, "getAlarm"), at);
    await call(room, "setAlarm", new Date(at + 1000));
    assert.equal(await call(room, "getAlarm"), at + 1000, "setAlarm takes a Date and replaces the alarm");
    await call(room, "deleteAlarm");
    assert.equal(await call(room, "getAlarm"), null);
  });
});

describe("storage: concurrency", { timeout: 30_000 }, () => {
  test("20 concurrent read-modify-write requests increment a counter to exactly 20", async () => {
    const room = freshRoom("counter");
    const results = await Promise.all(Array.from({ length: 20 }, () => op(room, "increment")));
    assert.deepEqual(
      [...results].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(await call(room, "get", "counter"), 20);
  });
});
