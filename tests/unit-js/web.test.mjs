// Core web globals: DOMException, encoding, base64, structuredClone, console, timers, events,
// abort, crypto, performance, navigator.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { g, native, takeLogs, fireTimer, inspect, flushMicrotasks } from "./web_harness.mjs";

describe("globals", () => {
  test("are non-enumerable, writable and configurable", () => {
    const desc = Object.getOwnPropertyDescriptor(g, "TextEncoder");
    assert.equal(desc.enumerable, false);
    assert.equal(desc.writable, true);
    assert.equal(desc.configurable, true);
    assert.deepEqual(Object.keys(g), []);
  });

  test("navigator.userAgent and performance", () => {
    assert.equal(g.navigator.userAgent, "Cloudflare-Workers");
    native.clock = 1234.5;
    assert.equal(g.performance.now(), 1234.5);
    assert.ok(Math.abs(g.performance.timeOrigin - (Date.now() - 1000)) < 1000);
  });
});

describe("DOMException", () => {
  test("name, message, code and Error ancestry", () => {
    const e = new g.DOMException("bad", "AbortError");
    assert.equal(e.name, "AbortError");
    assert.equal(e.message, "bad");
    assert.equal(e.code, 20);
    assert.ok(e instanceof Error);
    assert.match(e.stack, /^AbortError: bad\n/);
    assert.equal(Object.prototype.toString.call(e), "[object DOMException]");
    assert.equal(new g.DOMException().name, "Error");
    assert.equal(new g.DOMException("x", "Custom").code, 0);
    assert.equal(g.DOMException.DATA_CLONE_ERR, 25);
    assert.equal(new g.DOMException("m", { name: "SyntaxError", cause: 1 }).cause, 1);
  });
});

describe("TextEncoder and TextDecoder", () => {
  const text = "héllo ✓ 😀";
  test("encode and encodeInto", () => {
    const enc = new g.TextEncoder();
    assert.equal(enc.encoding, "utf-8");
    assert.deepEqual([...enc.encode(text)], [...Buffer.from(text)]);
    assert.deepEqual([...enc.encode()], []);
    assert.deepEqual([...enc.encode("\ud800")], [0xef, 0xbf, 0xbd]);
    const dest = new Uint8Array(4);
    assert.deepEqual(enc.encodeInto("a✓b", dest), { read: 2, written: 4 });
    assert.throws(() => enc.encodeInto("a", []), TypeError);
  });

  test("labels", () => {
    for (const label of ["utf-8", "UTF8", " unicode-1-1-utf-8 "]) {
      assert.equal(new g.TextDecoder(label).encoding, "utf-8");
    }
    assert.equal(new g.TextDecoder("\tlatin1\n").encoding, "windows-1252");
    assert.equal(new g.TextDecoder("UTF-16").encoding, "utf-16le");
    for (const label of ["iso-2022-kr", "utf-8\u00a0", "latin-1"]) {
      assert.throws(() => new g.TextDecoder(label), { name: "RangeError" });
    }
  });

  test("decode, BOM, fatal", () => {
    const dec = new g.TextDecoder();
    assert.equal(dec.decode(Buffer.from(text)), text);
    assert.equal(dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), "a");
    assert.equal(dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]).buffer), "a");
    assert.equal(new g.TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf])), "\ufeff");
    assert.equal(dec.decode(new Uint8Array([0x61, 0xff])), "a\ufffd");
    assert.equal(dec.decode(), "");
    assert.equal(dec.decode(new DataView(new Uint8Array([0x68, 0x69]).buffer)), "hi");
    const fatal = new g.TextDecoder("utf-8", { fatal: true });
    assert.equal(fatal.fatal, true);
    assert.throws(() => fatal.decode(new Uint8Array([0xff])), TypeError);
    assert.throws(() => dec.decode("string"), TypeError);
  });

  test("stream option holds back incomplete sequences", () => {
    const bytes = Buffer.from("€😀x");
    for (let split = 0; split <= bytes.length; split++) {
      const dec = new g.TextDecoder();
      const out = dec.decode(bytes.subarray(0, split), { stream: true }) + dec.decode(bytes.subarray(split));
      assert.equal(out, "€😀x", `split at ${split}`);
    }
    const dec = new g.TextDecoder();
    let out = "";
    for (const b of Buffer.from("\ufeff😀😀")) out += dec.decode(new Uint8Array([b]), { stream: true });
    out += dec.decode();
    assert.equal(out, "😀😀");
    // An incomplete sequence at the very end becomes U+FFFD.
    assert.equal(new g.TextDecoder().decode(new Uint8Array([0xe2, 0x82])), "\ufffd");
    const d2 = new g.TextDecoder();
    assert.equal(d2.decode(new Uint8Array([0xe2, 0x82]), { stream: true }), "");
    assert.equal(d2.decode(), "\ufffd");
    // Invalid prefixes are not held back.
    const d3 = new g.TextDecoder();
    assert.equal(d3.decode(new Uint8Array([0x61, 0xe0, 0x80]), { stream: true }), "a\ufffd\ufffd");
  });
});

describe("atob and btoa", () => {
  test("round trip and errors", () => {
    assert.equal(g.btoa("hello world"), "aGVsbG8gd29ybGQ=");
    assert.equal(g.btoa("\x00\xff\x80"), "AP+A");
    assert.equal(g.btoa(""), "");
    assert.equal(g.atob("aGVsbG8gd29ybGQ="), "hello world");
    assert.equal(g.atob(" aGVs bG8 "), "hello");
    assert.equal(g.atob("YQ"), "a");
    assert.equal(g.atob("YWI="), "ab");
    assert.throws(() => g.btoa("✓"), { name: "InvalidCharacterError" });
    assert.throws(() => g.atob("a"), { name: "InvalidCharacterError" });
    assert.throws(() => g.atob("ab=c"), { name: "InvalidCharacterError" });
    assert.throws(() => g.atob("YQ==="), { name: "InvalidCharacterError" });
    assert.throws(() => g.btoa(), TypeError);
    for (let n = 0; n < 300; n += 7) {
      const s = String.fromCharCode(...Array.from({ length: n }, (_, i) => (i * 37) & 0xff));
      assert.equal(g.btoa(s), Buffer.from(s, "latin1").toString("base64"));
      assert.equal(g.atob(g.btoa(s)), s);
    }
  });
});

describe("structuredClone", () => {
  test("clones Date, Map, Set, typed arrays and cycles", () => {
    const o = { d: new Date(5), m: new Map([[1, { x: [1] }]]), s: new Set([1]), u: new Uint8Array([1, 2]) };
    o.self = o;
    const c = g.structuredClone(o);
    assert.notEqual(c, o);
    assert.equal(c.self, c);
    assert.ok(c.d instanceof Date);
    assert.deepEqual(c.m.get(1), { x: [1] });
    assert.deepEqual([...c.u], [1, 2]);
  });
  test("throws DataCloneError for functions", () => {
    assert.throws(() => g.structuredClone(() => {}), { name: "DataCloneError" });
    assert.throws(() => g.structuredClone(), TypeError);
  });
});

describe("inspect and console", () => {
  test("inspect renders like Node for common shapes", () => {
    assert.equal(inspect({ a: 1, b: "x" }), "{ a: 1, b: 'x' }");
    assert.equal(inspect([1, "a", [2]]), "[ 1, 'a', [ 2 ] ]");
    assert.equal(inspect(new Map([["a", 1]])), "Map(1) { 'a' => 1 }");
    assert.equal(inspect(new Set([1, 2])), "Set(2) { 1, 2 }");
    assert.equal(inspect({}), "{}");
    assert.equal(inspect([]), "[]");
    assert.equal(inspect(null), "null");
    assert.equal(inspect(-0), "-0");
    assert.equal(inspect(10n), "10n");
    assert.equal(inspect(Symbol("s")), "Symbol(s)");
    assert.equal(inspect("it's"), `"it's"`);
    assert.equal(inspect({ "a-b": 1, [Symbol("k")]: 2 }), "{ 'a-b': 1, [Symbol(k)]: 2 }");
    assert.equal(inspect(function foo() {}), "[Function: foo]");
    assert.equal(inspect(class Bar {}), "[class Bar]");
    assert.equal(inspect(() => {}), "[Function (anonymous)]");
    assert.equal(inspect(new (class Foo { x = 1 })()), "Foo { x: 1 }");
    assert.equal(inspect(Object.create(null)), "[Object: null prototype] {}");
    assert.equal(inspect(new Uint8Array([1, 2])), "Uint8Array(2) [ 1, 2 ]");
    assert.equal(inspect(new ArrayBuffer(2)), "ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2 }");
    assert.equal(inspect(new Date(0)), "1970-01-01T00:00:00.000Z");
    assert.equal(inspect(/a/g), "/a/g");
    assert.equal(inspect([1, , 3]), "[ 1, <1 empty item>, 3 ]");
    assert.equal(inspect({ get x() { return 1; } }), "{ x: [Getter] }");
    assert.equal(inspect({ a: { b: { c: { d: 1 } } } }), "{ a: { b: { c: [Object] } } }");
    const cyclic = { name: "c" };
    cyclic.self = cyclic;
    assert.equal(inspect(cyclic), "{ name: 'c', self: [Circular] }");
    const err = new Error("boom");
    assert.equal(inspect(err), err.stack);
    err.code = "E1";
    assert.equal(inspect(err), `${err.stack} { code: 'E1' }`.replace(" { code", " {\n  code").replace("' }", "'\n}"));
  });

  test("inspect matches Node's layout for long values", async () => {
    const util = await import("node:util");
    const samples = [
      Array.from({ length: 10 }, (_, i) => i),
      Array.from({ length: 30 }, (_, i) => i * 1000),
      Array.from({ length: 120 }, (_, i) => i),
      { alpha: "a".repeat(30), beta: "b".repeat(30), gamma: 3 },
      { nested: { list: [1, 2, 3], text: "hello" }, other: new Map([["k", { v: 1 }]]) },
      [{ a: 1 }, { b: 2 }],
    ];
    for (const value of samples) assert.equal(inspect(value), util.inspect(value), util.inspect(value));
  });

  test("console formats substitutions and levels", () => {
    takeLogs();
    g.console.log("a %s b %d c %i %f %j %%", "x", 4.5, 4.5, "1.5", { j: 1 }, "extra", { o: 1 });
    g.console.info("str", 1, "two");
    g.console.warn({ w: [1] });
    g.console.error(new Error("e").message);
    g.console.debug("dbg");
    assert.deepEqual(takeLogs(), [
      [1, `a x b 4.5 c 4 1.5 {"j":1} % extra { o: 1 }`],
      [1, "str 1 two"],
      [2, "{ w: [ 1 ] }"],
      [3, "e"],
      [0, "dbg"],
    ]);
  });

  test("console count, time, assert, table, group, trace", () => {
    takeLogs();
    g.console.count();
    g.console.count();
    g.console.count("x");
    native.clock = 0;
    g.console.time("t");
    native.clock = 1.5;
    g.console.timeEnd("t");
    g.console.timeEnd("nope");
    g.console.assert(true, "fine");
    g.console.assert(false, "bad %s", "thing");
    g.console.group("G");
    g.console.log("inner\nlines");
    g.console.groupEnd();
    g.console.table([{ a: 1, b: "x" }, { a: 2 }]);
    const logs = takeLogs();
    assert.deepEqual(logs.slice(0, 8), [
      [1, "default: 1"],
      [1, "default: 2"],
      [1, "x: 1"],
      [1, "t: 1.500ms"],
      [2, "Warning: No such label 'nope' for console.timeEnd()"],
      [2, "Assertion failed: bad thing"],
      [1, "G"],
      [1, "  inner\n  lines"],
    ]);
    assert.equal(
      logs[8][1],
      [
        "┌─────────┬───┬─────┐",
        "│ (index) │ a │  b  │",
        "├─────────┼───┼─────┤",
        "│    0    │ 1 │ 'x' │",
        "│    1    │ 2 │     │",
        "└─────────┴───┴─────┘",
      ].join("\n"),
    );
    g.console.trace("here");
    const [[level, trace]] = takeLogs();
    assert.equal(level, 3);
    assert.match(trace, /^Trace: here\n    at /);
  });
});

describe("timers", () => {
  test("setTimeout runs once with arguments; clearTimeout cancels", () => {
    const calls = [];
    const id = g.setTimeout((a, b) => calls.push([a, b]), 10, 1, 2);
    assert.equal(typeof id, "number");
    assert.equal(native.timers.get(id), 10);
    const id2 = g.setTimeout(() => calls.push("no"), -5);
    assert.equal(native.timers.get(id2), 0);
    g.clearTimeout(id2);
    assert.equal(native.timers.has(id2), false);
    fireTimer(id);
    fireTimer(id);
    fireTimer(id2);
    assert.deepEqual(calls, [[1, 2]]);
    assert.throws(() => g.setTimeout("code"), TypeError);
  });

  test("setInterval re-arms, even when the callback throws, until cleared", () => {
    let n = 0;
    const id = g.setInterval(() => {
      n++;
      if (n === 2) throw new Error("tick");
      if (n === 3) g.clearInterval(id);
    }, 5);
    native.timers.delete(id);
    fireTimer(id);
    assert.equal(native.timers.get(id), 5);
    native.timers.delete(id);
    assert.throws(() => fireTimer(id), /tick/);
    assert.equal(native.timers.get(id), 5);
    fireTimer(id);
    assert.equal(native.timers.has(id), false);
    fireTimer(id);
    assert.equal(n, 3);
  });

  test("queueMicrotask validates and queues", async () => {
    assert.throws(() => g.queueMicrotask(1), TypeError);
    const order = [];
    g.queueMicrotask(() => order.push("micro"));
    order.push("sync");
    await flushMicrotasks();
    assert.deepEqual(order, ["sync", "micro"]);
  });
});

describe("events", () => {
  test("listeners, once, handleEvent, capture order, duplicates", () => {
    const target = new g.EventTarget();
    const calls = [];
    const fn = (e) => calls.push(["fn", e.eventPhase, e.currentTarget === target]);
    target.addEventListener("x", fn);
    target.addEventListener("x", fn);
    target.addEventListener("x", { handleEvent: (e) => calls.push(["obj", e.type]) }, { once: true });
    target.addEventListener("x", () => calls.push(["capture"]), true);
    const event = new g.Event("x");
    assert.equal(target.dispatchEvent(event), true);
    target.dispatchEvent(new g.Event("x"));
    assert.deepEqual(calls, [
      ["capture"], ["fn", 2, true], ["obj", "x"],
      ["capture"], ["fn", 2, true],
    ]);
    assert.equal(event.target, target);
    assert.equal(event.currentTarget, null);
    assert.equal(event.eventPhase, 0);
    target.removeEventListener("x", fn);
    calls.length = 0;
    target.dispatchEvent(new g.Event("x"));
    assert.deepEqual(calls, [["capture"]]);
  });

  test("preventDefault, stopImmediatePropagation and listener errors", () => {
    const target = new g.EventTarget();
    const calls = [];
    target.addEventListener("c", (e) => { e.preventDefault(); throw new Error("listener"); });
    target.addEventListener("c", (e) => { calls.push(1); e.stopImmediatePropagation(); });
    target.addEventListener("c", () => calls.push(2));
    takeLogs();
    assert.equal(target.dispatchEvent(new g.Event("c", { cancelable: true })), false);
    assert.equal(target.dispatchEvent(new g.Event("c")), true);
    assert.deepEqual(calls, [1, 1]);
    const logs = takeLogs();
    assert.equal(logs.length, 2);
    assert.match(logs[0][1], /^Uncaught Error: listener/);
    assert.throws(() => target.dispatchEvent({ type: "c" }), TypeError);
  });

  test("signal option removes the listener", () => {
    const target = new g.EventTarget();
    const controller = new g.AbortController();
    let n = 0;
    target.addEventListener("y", () => n++, { signal: controller.signal });
    target.dispatchEvent(new g.Event("y"));
    controller.abort();
    target.dispatchEvent(new g.Event("y"));
    assert.equal(n, 1);
  });

  test("event subclasses carry their fields", () => {
    assert.equal(new g.CustomEvent("c", { detail: { a: 1 } }).detail.a, 1);
    const m = new g.MessageEvent("message", { data: "d", origin: "o" });
    assert.deepEqual([m.type, m.data, m.origin, m.lastEventId, m.ports.length], ["message", "d", "o", "", 0]);
    const c = new g.CloseEvent("close", { code: 1000, reason: "bye", wasClean: true });
    assert.deepEqual([c.code, c.reason, c.wasClean], [1000, "bye", true]);
    const err = new Error("x");
    const e = new g.ErrorEvent("error", { message: "m", error: err });
    assert.deepEqual([e.message, e.error, e.filename, e.lineno], ["m", err, "", 0]);
    assert.ok(m instanceof g.Event);
    assert.throws(() => new g.Event(), TypeError);
  });
});

describe("AbortController and AbortSignal", () => {
  test("abort, reason, onabort and throwIfAborted", () => {
    const controller = new g.AbortController();
    const { signal } = controller;
    const seen = [];
    signal.onabort = (e) => seen.push(["onabort", e.type]);
    signal.addEventListener("abort", () => seen.push(["listener", signal.aborted]));
    signal.throwIfAborted();
    controller.abort();
    controller.abort("again");
    assert.deepEqual(seen, [["onabort", "abort"], ["listener", true]]);
    assert.equal(signal.reason.name, "AbortError");
    assert.throws(() => signal.throwIfAborted(), { name: "AbortError" });
    assert.throws(() => new g.AbortSignal(), TypeError);
    const c2 = new g.AbortController();
    c2.abort("why");
    assert.equal(c2.signal.reason, "why");
    assert.equal(g.AbortSignal.abort().aborted, true);
  });

  test("timeout aborts with a TimeoutError when its timer fires", () => {
    const before = new Set(native.timers.keys());
    const signal = g.AbortSignal.timeout(50);
    const id = [...native.timers.keys()].find((k) => !before.has(k));
    assert.equal(native.timers.get(id), 50);
    assert.equal(signal.aborted, false);
    fireTimer(id);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason.name, "TimeoutError");
    assert.throws(() => g.AbortSignal.timeout(-1), TypeError);
  });

  test("any follows its sources", () => {
    const a = new g.AbortController();
    const b = new g.AbortController();
    const any = g.AbortSignal.any([a.signal, b.signal]);
    const nested = g.AbortSignal.any([any]);
    let fired = 0;
    nested.onabort = () => fired++;
    b.abort("b");
    a.abort("a");
    assert.equal(any.reason, "b");
    assert.equal(nested.reason, "b");
    assert.equal(fired, 1);
    assert.equal(g.AbortSignal.any([a.signal]).reason, "a");
  });
});

describe("crypto", () => {
  test("getRandomValues and randomUUID", () => {
    const a = new Uint32Array(8);
    assert.equal(g.crypto.getRandomValues(a), a);
    assert.ok(a.some((x) => x !== 0));
    assert.throws(() => g.crypto.getRandomValues(new Float32Array(2)), { name: "TypeMismatchError" });
    assert.throws(() => g.crypto.getRandomValues(new Uint8Array(65537)), { name: "QuotaExceededError" });
    g.crypto.getRandomValues(new Uint8Array(65536));
    assert.match(g.crypto.randomUUID(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  test("subtle is a placeholder that names the missing method", () => {
    assert.equal(typeof g.crypto.subtle, "object");
    assert.throws(() => g.crypto.subtle.digest("SHA-256", new Uint8Array()), {
      name: "TypeError",
      message: "crypto.subtle.digest is not supported yet by partyd",
    });
  });
});

describe("structuredClone edges (issue 13)", () => {
  test("a Blob or File anywhere in the value is a DataCloneError, not a plain object", () => {
    for (const value of [new g.Blob(["x"]), { list: [new g.File(["x"], "f.txt")] }, new Map([[1, new g.Blob()]])]) {
      assert.throws(() => g.structuredClone(value), (e) => e instanceof g.DOMException && e.name === "DataCloneError");
    }
  });

  test("an exception thrown by a getter is rethrown as it is", () => {
    const thrown = new RangeError("from getter");
    assert.throws(() => g.structuredClone({ get x() { throw thrown; } }), (e) => e === thrown);
  });

  test("transfer detaches the listed buffers; a non-buffer or a repeat is a DataCloneError", () => {
    const buf = new Uint8Array([1, 2]).buffer;
    const copy = g.structuredClone({ buf }, { transfer: [buf] });
    assert.equal(buf.byteLength, 0);
    assert.deepEqual([...new Uint8Array(copy.buf)], [1, 2]);
    const other = new ArrayBuffer(1);
    assert.throws(() => g.structuredClone(other, { transfer: [other, other] }), { name: "DataCloneError" });
    assert.throws(() => g.structuredClone(1, { transfer: [{}] }), { name: "DataCloneError" });
  });

  test("global constructors carry their own names, whatever the bundler called them", () => {
    assert.equal(g.DOMException.name, "DOMException");
    assert.equal(new g.DOMException("m").constructor.name, "DOMException");
    assert.equal(Object.prototype.toString.call(new g.DOMException("m")), "[object DOMException]");
  });
});

describe("workerd's additions (issue 13)", () => {
  test("scheduler.wait resolves through a timer and rejects when its signal aborts", async () => {
    const before = new Set(native.timers.keys());
    const waiting = g.scheduler.wait(25);
    const [id] = [...native.timers.keys()].filter((k) => !before.has(k));
    assert.equal(native.timers.get(id), 25);
    fireTimer(id);
    assert.equal(await waiting, undefined);
    const controller = new g.AbortController();
    const aborted = g.scheduler.wait(1000, { signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
  });

  test("crypto.DigestStream rejects unknown algorithms with NotSupportedError", () => {
    assert.throws(() => new g.crypto.DigestStream("NOPE"), { name: "NotSupportedError" });
  });
});
