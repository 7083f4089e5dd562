// The project of tests/unit-js/node.test.mjs: each GET /parties/main/<room>/<case> runs one
// group of Node built-in checks in the room and answers with their results as JSON, so that the
// test compares them against known vectors. Errors come back as { error: "Name: message", code }.
import assert from "node:assert";
import * as asyncHooks from "node:async_hooks";
import { Buffer } from "node:buffer";
import * as bufferModule from "buffer";
import * as crypto from "node:crypto";
import EventEmitter, { errorMonitor, on, once } from "node:events";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import util from "node:util";

// partykit dev's bundler does not resolve node:assert/strict or node:util/types.
const strictAssert = assert.strict;
const { AsyncLocalStorage, AsyncResource } = asyncHooks;
const { isPromise } = util.types;

function attempt(f) {
  try {
    return f();
  } catch (e) {
    return { error: `${e.name}: ${e.message}`, code: e.code };
  }
}

async function attemptAsync(f) {
  try {
    return await f();
  } catch (e) {
    return { error: `${e.name}: ${e.message}`, code: e.code };
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (s) => Buffer.from(s, "hex");

const leaky = new AsyncLocalStorage();

const cases = {
  // The names each module exports (for comparing with partykit dev).
  keys() {
    const modules = { asyncHooks, bufferModule, crypto, events: EventEmitter, path, util, assert };
    return Object.fromEntries(Object.entries(modules).map(([k, m]) => [k, Object.keys(m).sort()]));
  },

  globals() {
    return {
      Buffer: typeof globalThis.Buffer,
      process: typeof globalThis.process,
      bareSameAsNode: bufferModule.Buffer === Buffer,
    };
  },

  buffer() {
    const b = Buffer.from("héllo wörld", "utf8");
    const w = Buffer.alloc(8);
    w.writeUInt32BE(0xdeadbeef, 0);
    w.writeInt16LE(-2, 4);
    return {
      utf8: b.toString("utf8"),
      hex: b.toString("hex"),
      base64: Buffer.from("hi").toString("base64"),
      base64url: Buffer.from([0xfb, 0xff, 0xfe]).toString("base64url"),
      fromBase64: Buffer.from("aGVsbG8=", "base64").toString(),
      fromBase64url: Buffer.from("-__-", "base64url").toString("hex"),
      fromHex: Buffer.from("48656c6c6f", "hex").toString(),
      latin1: Buffer.from([0xe9]).toString("latin1"),
      byteLength: Buffer.byteLength("€"),
      concat: Buffer.concat([Buffer.from("ab"), Buffer.from("cd")]).toString(),
      equals: Buffer.from("x").equals(Buffer.from("x")),
      compare: Buffer.compare(Buffer.from("a"), Buffer.from("b")),
      written: w.toString("hex"),
      readBack: [w.readUInt32BE(0), w.readInt16LE(4)],
      subarray: b.subarray(0, 1).toString(),
      indexOf: b.indexOf("wörld"),
      isBuffer: [Buffer.isBuffer(b), Buffer.isBuffer(new Uint8Array(1))],
      isUint8Array: b instanceof Uint8Array,
      fill: Buffer.alloc(4, "ab").toString(),
      json: b.subarray(0, 2).toJSON(),
      isEncoding: [Buffer.isEncoding("base64url"), Buffer.isEncoding("nope")],
      transcode: attempt(() => bufferModule.transcode(b, "utf8", "latin1")),
    };
  },

  events() {
    const e = new EventEmitter();
    const got = [];
    const onA = (x) => got.push(`a:${x}`);
    e.on("a", onA);
    e.once("a", (x) => got.push(`once:${x}`));
    e.prependListener("a", (x) => got.push(`first:${x}`));
    const emitted = [e.emit("a", 1), e.emit("a", 2), e.emit("none")];
    const counts = [e.listenerCount("a")];
    e.off("a", onA);
    e.emit("a", 3);
    counts.push(e.listenerCount("a"));
    e.removeAllListeners();
    counts.push(e.listenerCount("a"));
    const unhandled = attempt(() => e.emit("error", new Error("boom")));
    const monitored = [];
    e.on(errorMonitor, (err) => monitored.push(`monitor:${err.message}`));
    e.on("error", (err) => monitored.push(`handler:${err.message}`));
    e.emit("error", new Error("handled"));
    return {
      got,
      emitted,
      counts,
      unhandled,
      monitored,
      eventNames: e.eventNames().length,
      staticOn: attempt(() => EventEmitter.on(e, "x")),
    };
  },

  async eventsOnce() {
    const e = new EventEmitter();
    setTimeout(() => e.emit("ready", 1, 2), 1);
    return once(e, "ready");
  },

  async eventsOn() {
    const e = new EventEmitter();
    setTimeout(() => {
      e.emit("tick", 1);
      e.emit("tick", 2, "b");
      e.emit("tick", 3);
    }, 1);
    const got = [];
    for await (const args of on(e, "tick")) {
      got.push(args);
      if (got.length === 2) break;
    }
    const failing = new EventEmitter();
    setTimeout(() => failing.emit("error", new Error("stop")), 1);
    let rejected;
    try {
      for await (const args of on(failing, "x")) got.push(args);
    } catch (err) {
      rejected = err.message;
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1);
    let aborted;
    try {
      for await (const args of on(new EventEmitter(), "x", { signal: controller.signal })) got.push(args);
    } catch (err) {
      aborted = err.name;
    }
    return { got, rejected, aborted, left: e.listenerCount("tick") + e.listenerCount("error") };
  },

  async als() {
    const als = new AsyncLocalStorage();
    const other = new AsyncLocalStorage();
    const log = [];
    const seen = (what) => log.push(`${what}=${als.getStore() ?? "none"}`);
    seen("outside");
    const nested = als.run("outer", () => {
      seen("run");
      const inner = als.run("inner", () => als.getStore());
      return [inner, als.getStore(), other.getStore() ?? "none"];
    });
    seen("after-run");
    await als.run("async", async () => {
      seen("before-await");
      await sleep(1);
      seen("after-await");
      await Promise.resolve().then(() => seen("then"));
      await new Promise((resolve) => setTimeout(() => { seen("setTimeout"); resolve(); }, 1));
      await new Promise((resolve) => queueMicrotask(() => { seen("queueMicrotask"); resolve(); }));
      await new Promise((resolve) => {
        const id = setInterval(() => { seen("setInterval"); clearInterval(id); resolve(); }, 1);
      });
      als.exit(() => seen("exit"));
      await other.run("b", async () => {
        await null;
        log.push(`both=${als.getStore()},${other.getStore()}`);
      });
    });
    seen("after-async");
    // Two runs interleaved across awaits keep their own stores.
    const interleaved = await Promise.all(
      ["x", "y"].map((v, i) => als.run(v, async () => {
        await sleep(i === 0 ? 5 : 1);
        return als.getStore();
      })),
    );
    const snapshot = als.run("snap", () => AsyncLocalStorage.snapshot());
    const bound = als.run("bound", () => AsyncLocalStorage.bind(() => als.getStore()));
    const resource = als.run("resource", () => new AsyncResource("test"));
    als.enterWith("entered");
    const entered = als.getStore();
    await null;
    const enteredAfterAwait = als.getStore();
    return {
      log,
      nested,
      interleaved,
      snapshot: snapshot(() => als.getStore()),
      bound: bound(),
      resource: resource.runInAsyncScope(() => als.getStore()),
      entered,
      enteredAfterAwait,
      createHook: attempt(() => asyncHooks.createHook({})),
    };
  },

  // A store entered in one request does not reach the next one.
  alsEnter() {
    const before = leaky.getStore() ?? "none";
    leaky.enterWith("left-over");
    return before;
  },

  alsLeak() {
    return leaky.getStore() ?? "none";
  },

  // A run stopped by the handler timeout does not leave its store behind.
  alsSpin() {
    return leaky.run("spun", () => {
      for (;;);
    });
  },

  crypto() {
    const hash = (alg, data, enc = "hex") => crypto.createHash(alg).update(data).digest(enc);
    const hmac = (alg, key, data) => crypto.createHmac(alg, key).update(data).digest("hex");
    const h = crypto.createHash("sha256");
    const finished = h.update("a").update(Buffer.from("b")).update(new Uint8Array([0x63]));
    const chained = finished.digest("hex");
    const partial = crypto.createHash("sha256").update("ab");
    const copy = partial.copy();
    const random = crypto.randomBytes(16);
    const filled = crypto.randomFillSync(new Uint8Array(8));
    const int = crypto.randomInt(10, 20);
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const jefe = "what do ya want for nothing?";
    return {
      md5: hash("md5", ""),
      sha1: hash("sha1", "abc"),
      sha256: hash("sha256", "abc"),
      sha384: hash("sha384", "abc"),
      sha512: hash("sha512", "abc"),
      upper: hash("SHA256", "abc"),
      base64: hash("sha256", "abc", "base64"),
      base64url: hash("sha256", "abc", "base64url"),
      buffer: Buffer.isBuffer(crypto.createHash("sha1").update("abc").digest()),
      hexInput: crypto.createHash("sha256").update("616263", "hex").digest("hex"),
      chained,
      sameObject: finished === h,
      copy: [copy.update("c").digest("hex"), partial.digest("hex")],
      twice: attempt(() => h.digest("hex")),
      updateAfter: attempt(() => h.update("x")),
      unknown: attempt(() => crypto.createHash("nope")),
      badData: attempt(() => crypto.createHash("sha256").update(42)),
      hmac1: hmac("sha256", hex("0b".repeat(20)), "Hi There"),
      hmac2: {
        sha224: hmac("sha224", "Jefe", jefe),
        sha256: hmac("sha256", "Jefe", jefe),
        sha384: hmac("sha384", "Jefe", jefe),
        sha512: hmac("sha512", "Jefe", jefe),
      },
      // RFC 4231 test case 6: a 131-byte key, longer than the block.
      hmac6: hmac("sha256", hex("aa".repeat(131)), "Test Using Larger Than Block-Size Key - Hash Key First"),
      hmacEmptyKey: hmac("sha256", "", ""),
      hmacMd5: hmac("md5", "key", "The quick brown fox jumps over the lazy dog"),
      hmacBase64: crypto.createHmac("sha1", "key").update("").digest("base64"),
      hmacUnknown: attempt(() => crypto.createHmac("nope", "k")),
      pbkdf2: crypto.pbkdf2Sync("password", "salt", 2, 20, "sha1").toString("hex"),
      random: [Buffer.isBuffer(random), random.length, crypto.randomBytes(0).length],
      filled: filled.length,
      int: int >= 10 && int < 20,
      uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
      safeEqual: [
        crypto.timingSafeEqual(Buffer.from("abc"), Buffer.from("abc")),
        crypto.timingSafeEqual(Buffer.from("abc"), Buffer.from("abd")),
      ],
      safeEqualLength: attempt(() => crypto.timingSafeEqual(Buffer.from("a"), Buffer.from("ab"))),
      webcrypto: crypto.webcrypto === globalThis.crypto && crypto.subtle === globalThis.crypto.subtle,
      getRandomValues: crypto.getRandomValues(new Uint8Array(4)).length,
      hashes: crypto.getHashes().includes("sha256"),
      cipher: attempt(() => crypto.createCipheriv("aes-256-gcm", Buffer.alloc(32), Buffer.alloc(12))),
    };
  },

  kdf() {
    // RFC 5869 test case 1; RFC 7914 section 12.
    const okm = crypto.hkdfSync("sha256", hex("0b".repeat(22)), hex("000102030405060708090a0b0c"),
      hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    return {
      hkdf: [okm instanceof ArrayBuffer, Buffer.from(okm).toString("hex")],
      scryptEmpty: crypto.scryptSync("", "", 64, { N: 16, r: 1, p: 1 }).toString("hex"),
      scrypt: crypto.scryptSync("password", "NaCl", 64, { cost: 1024, blockSize: 8, parallelization: 16 }).toString("hex"),
      scryptBadN: attempt(() => crypto.scryptSync("p", "s", 16, { N: 1000 })),
      pbkdf2Cap: attempt(() => crypto.pbkdf2Sync("p", "s", 100001, 16, "sha256")),
    };
  },

  async cryptoAsync() {
    const bytes = await new Promise((resolve, reject) =>
      crypto.randomBytes(4, (err, b) => (err ? reject(err) : resolve(b.length))));
    const derived = await new Promise((resolve, reject) =>
      crypto.pbkdf2("password", "salt", 1, 20, "sha1", (err, b) => (err ? reject(err) : resolve(b.toString("hex")))));
    const scrypted = await new Promise((resolve, reject) =>
      crypto.scrypt("", "", 16, { N: 16, r: 1, p: 1 }, (err, b) => (err ? reject(err) : resolve(b.toString("hex")))));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"));
    return { bytes, derived, scrypted, subtle: Buffer.from(digest).toString("hex") };
  },

  async util() {
    function Base() {}
    Base.prototype.hello = () => "hello";
    function Derived() {}
    util.inherits(Derived, Base);
    const sleepCb = (ms, cb) => setTimeout(() => cb(null, ms * 2), ms);
    const promised = await util.promisify(sleepCb)(1);
    const callbacked = await new Promise((resolve) =>
      util.callbackify(async (x) => x + 1)(1, (err, v) => resolve([err, v])));
    return {
      format: util.format("%s=%d %j", "a", 42, { b: 1 }),
      inspect: util.inspect({ a: [1, 2], m: new Map([["k", 1]]) }),
      inspectDepth: util.inspect({ a: { b: { c: { d: 1 } } } }, { depth: 0 }),
      custom: typeof util.inspect.custom,
      inherits: new Derived().hello(),
      promised,
      callbacked,
      isPromise: [util.types.isPromise(Promise.resolve()), isPromise(1)],
      isDeepStrictEqual: [util.isDeepStrictEqual({ a: [1] }, { a: [1] }), util.isDeepStrictEqual([1], ["1"])],
      types: [util.types.isUint8Array(new Uint8Array()), util.types.isDate(new Date()), util.types.isRegExp(/x/)],
      textEncoder: util.TextEncoder === TextEncoder,
      parseArgs: attempt(() => util.parseArgs({})),
    };
  },

  path() {
    return {
      join: path.join("/a/b", "../c", "d.txt"),
      resolve: path.resolve("x", "y"),
      resolveAbsolute: path.resolve("/a", "b", "../c"),
      basename: [path.basename("/a/b.txt"), path.basename("/a/b.txt", ".txt")],
      dirname: path.dirname("/a/b/c"),
      extname: path.extname("f.tar.gz"),
      relative: path.relative("/a/b/c", "/a/d"),
      normalize: path.normalize("/a//b/./c/.."),
      parse: path.parse("/home/u/file.txt"),
      format: path.format({ dir: "/x", base: "y.js" }),
      isAbsolute: [path.isAbsolute("/a"), path.isAbsolute("a")],
      sep: path.sep,
      delimiter: path.delimiter,
      posix: path.posix.join("a", "b"),
      win32: attempt(() => path.win32.join("a", "b")),
    };
  },

  stringDecoder() {
    const d = new StringDecoder("utf8");
    const euro = Buffer.from("€");
    const parts = [d.write(euro.subarray(0, 1)), d.write(euro.subarray(1, 2)), d.write(new Uint8Array([0xac, 0x61]))];
    const hexDecoder = new StringDecoder("hex");
    return { parts, end: new StringDecoder("utf8").end(Buffer.from([0xe2])), hex: hexDecoder.write(Buffer.from("hi")) };
  },

  assert() {
    return {
      ok: attempt(() => assert.ok(true) ?? "passed"),
      strictEqual: attempt(() => assert.strictEqual(1, 2)),
      deepStrictEqual: attempt(() => assert.deepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }) ?? "passed"),
      deepFails: attempt(() => strictAssert.deepEqual({ a: 1 }, { a: "1" })),
      looseDeep: attempt(() => assert.deepEqual({ a: 1 }, { a: "1" }) ?? "passed"),
      throws: attempt(() => assert.throws(() => { throw new TypeError("x"); }, TypeError) ?? "passed"),
      match: attempt(() => assert.match("abc", /b/) ?? "passed"),
      callable: attempt(() => assert(false, "plain call")),
      strictIsStrict: strictAssert === assert.strict,
    };
  },
};

export default class NodeBuiltins {
  constructor(room) {
    this.room = room;
  }

  async onRequest(req) {
    const which = new URL(req.url).pathname.split("/")[4] ?? "";
    const run = cases[which];
    if (!run) return new Response(`no case ${which}`, { status: 404 });
    return Response.json(await attemptAsync(run));
  }
}
