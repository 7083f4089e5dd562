// The Node.js built-ins of the runtime (src/api/js/node and src/api/node_natives.cc), run for
// real: the built partyd ($PARTYD, default build/partyd) serves node_fixture/, whose room runs
// each group of checks and answers with the results, compared here against published vectors
// (FIPS 180 digests, RFC 4231 HMACs, RFC 6070 PBKDF2, RFC 5869 HKDF, RFC 7914 scrypt) and what
// Node itself answers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { http, startServer } from "../harness.mjs";

const fixture = fileURLToPath(new URL("./node_fixture", import.meta.url));

let server;
before(async () => {
  server = await startServer(fixture);
});
after(async () => {
  await server?.stop();
});

async function run(which, room = "r") {
  const r = await http(server.host, `/parties/main/${room}/${which}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
}

const notImplemented = (what, module) => ({
  error: `Error: partyd: ${what} (node:${module}) is not implemented`,
});

describe("Node built-ins", { timeout: 30_000 }, () => {
  test("no Buffer or process global (workerd's nodejs_compat has neither); bare names are the same modules", async () => {
    assert.deepEqual(await run("globals"), { Buffer: "undefined", process: "undefined", bareSameAsNode: true });
  });

  test("node:buffer: encodings, reads and writes, concat, compare", async () => {
    const b = await run("buffer");
    assert.equal(b.utf8, "héllo wörld");
    assert.equal(b.hex, "68c3a96c6c6f2077c3b6726c64");
    assert.equal(b.base64, "aGk=");
    assert.equal(b.base64url, "-__-");
    assert.equal(b.fromBase64, "hello");
    assert.equal(b.fromBase64url, "fbfffe");
    assert.equal(b.fromHex, "Hello");
    assert.equal(b.latin1, "é");
    assert.equal(b.byteLength, 3);
    assert.equal(b.concat, "abcd");
    assert.equal(b.equals, true);
    assert.equal(b.compare, -1);
    assert.equal(b.written, "deadbeeffeff0000");
    assert.deepEqual(b.readBack, [0xdeadbeef, -2]);
    assert.equal(b.subarray, "h");
    assert.equal(b.indexOf, 7);
    assert.deepEqual(b.isBuffer, [true, false]);
    assert.equal(b.isUint8Array, true);
    assert.equal(b.fill, "abab");
    assert.deepEqual(b.json, { type: "Buffer", data: [104, 195] });
    assert.deepEqual(b.isEncoding, [true, false]);
    assert.deepEqual(b.transcode, notImplemented("buffer.transcode", "buffer"));
  });

  test("node:events: on, once, prependListener, off, emit, listenerCount, error, errorMonitor", async () => {
    assert.deepEqual(await run("events"), {
      got: ["first:1", "a:1", "once:1", "first:2", "a:2", "first:3"],
      emitted: [true, true, false],
      counts: [2, 1, 0],
      unhandled: { error: "Error: boom" },
      monitored: ["monitor:handled", "handler:handled"],
      eventNames: 2,
      staticOn: {},
    });
    assert.deepEqual(await run("eventsOnce"), [1, 2]);
  });

  test("node:events: events.on iterates emissions; 'error' rejects; an abort ends it; listeners are removed", async () => {
    assert.deepEqual(await run("eventsOn"), { got: [[1], [2, "b"]], rejected: "stop", aborted: "AbortError", left: 0 });
  });

  test("node:async_hooks: AsyncLocalStorage across await, then, timers and microtasks; nested and interleaved runs", async () => {
    assert.deepEqual(await run("als"), {
      log: [
        "outside=none", "run=outer", "after-run=none", "before-await=async", "after-await=async",
        "then=async", "setTimeout=async", "queueMicrotask=async", "setInterval=async", "exit=none",
        "both=async,b", "after-async=none",
      ],
      nested: ["inner", "outer", "none"],
      interleaved: ["x", "y"],
      snapshot: "snap",
      bound: "bound",
      resource: "resource",
      entered: "entered",
      enteredAfterAwait: "entered",
      createHook: notImplemented("async_hooks.createHook", "async_hooks"),
    });
  });

  test("node:async_hooks: a store entered with enterWith does not reach the next request", async () => {
    assert.equal(await run("alsEnter", "leak"), "none");
    assert.equal(await run("alsLeak", "leak"), "none");
    assert.equal(await run("alsEnter", "leak"), "none");
  });

  test("node:async_hooks: a run stopped by the handler timeout does not leave its store behind", async () => {
    const slow = await startServer(fixture, { args: ["--handler-timeout", "300", "--threads", "1"] });
    try {
      const r = await http(slow.host, "/parties/main/spin/alsSpin");
      assert.equal(r.status, 500, r.text);
      const after = await http(slow.host, "/parties/main/spin/alsLeak");
      assert.equal(after.status, 200, after.text);
      assert.equal(await after.json(), "none");
    } finally {
      await slow.stop();
    }
  });

  test("node:crypto: createHash (FIPS 180 vectors), update chaining, encodings, copy, errors", async () => {
    const c = await run("crypto");
    const abc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert.equal(c.md5, "d41d8cd98f00b204e9800998ecf8427e");
    assert.equal(c.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(c.sha256, abc256);
    assert.equal(c.sha384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    assert.equal(c.sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    assert.equal(c.upper, abc256);
    assert.equal(c.base64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert.equal(c.base64url, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    assert.equal(c.buffer, true);
    assert.equal(c.hexInput, abc256);
    assert.equal(c.chained, abc256);
    assert.equal(c.sameObject, true);
    assert.deepEqual(c.copy, [abc256, "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603"]);
    const finalized = { error: "Error: Digest already called", code: "ERR_CRYPTO_HASH_FINALIZED" };
    assert.deepEqual(c.twice, finalized);
    assert.deepEqual(c.updateAfter, finalized);
    assert.deepEqual(c.unknown, { error: "Error: Digest method not supported" });
    assert.equal(c.badData.code, "ERR_INVALID_ARG_TYPE");
  });

  test("node:crypto: createHmac (RFC 4231 cases 1, 2 and 6), empty key, MD5, errors", async () => {
    const c = await run("crypto");
    assert.equal(c.hmac1, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert.deepEqual(c.hmac2, {
      sha224: "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
      sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      sha384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
      sha512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    });
    assert.equal(c.hmac6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    assert.equal(c.hmacEmptyKey, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    assert.equal(c.hmacMd5, "80070713463e7749b90c2dc24911e275");
    assert.equal(c.hmacBase64, "9Cuw7rAY671Fl65yE3EexgdghD8=");
    // workerd's message for both createHash and createHmac (Node says "Invalid digest: nope").
    assert.deepEqual(c.hmacUnknown, { error: "Error: Digest method not supported" });
  });

  test("node:crypto: PBKDF2 (RFC 6070), random bytes and integers, randomUUID, timingSafeEqual, webcrypto", async () => {
    const c = await run("crypto");
    assert.equal(c.pbkdf2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    assert.deepEqual(c.random, [true, 16, 0]);
    assert.equal(c.filled, 8);
    assert.equal(c.int, true);
    assert.equal(c.uuid, true);
    assert.deepEqual(c.safeEqual, [true, false]);
    assert.deepEqual(c.safeEqualLength, {
      error: "TypeError: Input buffers must have the same byte length.",
      code: "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH",
    });
    assert.equal(c.webcrypto, true);
    assert.equal(c.getRandomValues, 4);
    assert.equal(c.hashes, true);
    assert.deepEqual(c.cipher, notImplemented("crypto.createCipheriv", "crypto"));
    assert.deepEqual(await run("cryptoAsync"), {
      bytes: 4,
      derived: "0c60c80f961f0e71f3a9b524af6012062fe037a6",
      scrypted: "77d6576238657b203b19ca42c18a0497",
      subtle: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    });
  });

  test("node:crypto: hkdfSync (RFC 5869), scryptSync (RFC 7914), the PBKDF2 and scrypt caps", async () => {
    assert.deepEqual(await run("kdf"), {
      hkdf: [true, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"],
      scryptEmpty: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
      scrypt: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
      scryptBadN: { error: "Error: Invalid scrypt params: N must be a power of two > 1, r and p >= 1" },
      pbkdf2Cap: { error: "Error: PBKDF2 iteration counts above 100000 are not supported" },
    });
  });

  test("node:util: format, inspect, promisify, callbackify, inherits, types, isDeepStrictEqual", async () => {
    assert.deepEqual(await run("util"), {
      format: 'a=42 {"b":1}',
      inspect: "{ a: [ 1, 2 ], m: Map(1) { 'k' => 1 } }",
      inspectDepth: "{ a: [Object] }",
      custom: "symbol",
      inherits: "hello",
      promised: 2,
      callbacked: [null, 2],
      isPromise: [true, false],
      isDeepStrictEqual: [true, false],
      types: [true, true, true],
      textEncoder: true,
      parseArgs: notImplemented("util.parseArgs", "util"),
    });
  });

  test("node:path: POSIX paths with the working directory /; win32 throws", async () => {
    assert.deepEqual(await run("path"), {
      join: "/a/c/d.txt",
      resolve: "/x/y",
      resolveAbsolute: "/a/c",
      basename: ["b.txt", "b"],
      dirname: "/a/b",
      extname: ".gz",
      relative: "../../d",
      normalize: "/a/b",
      parse: { root: "/", dir: "/home/u", base: "file.txt", ext: ".txt", name: "file" },
      format: "/x/y.js",
      isAbsolute: [true, false],
      sep: "/",
      delimiter: ":",
      posix: "a/b",
      win32: notImplemented("path.win32.join", "path.win32"),
    });
  });

  test("node:string_decoder: a character split across writes, any view, end()", async () => {
    assert.deepEqual(await run("stringDecoder"), { parts: ["", "", "€a"], end: "\ufffd", hex: "6869" });
  });

  test("node:assert and node:assert/strict", async () => {
    const a = await run("assert");
    assert.equal(a.ok, "passed");
    assert.deepEqual(a.strictEqual, {
      error: "AssertionError: Expected values to be strictly equal:\n\n1 !== 2\n",
      code: "ERR_ASSERTION",
    });
    assert.equal(a.deepStrictEqual, "passed");
    assert.equal(a.deepFails.code, "ERR_ASSERTION");
    assert.match(a.deepFails.error, /^AssertionError: Expected values to be strictly deep-equal/);
    assert.equal(a.looseDeep, "passed");
    assert.equal(a.throws, "passed");
    assert.equal(a.match, "passed");
    assert.deepEqual(a.callable, { error: "AssertionError: plain call", code: "ERR_ASSERTION" });
    assert.equal(a.strictIsStrict, true);
  });
});
