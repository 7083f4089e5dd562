// Compat corpus: the platform beyond V8 10.2 and the web APIs workerd adds (issue 13, items 7, 11
// and 12). ES built-ins newer than V8 10.2 (change-array-by-copy, groupBy, withResolvers,
// well-formed strings, Set methods, iterator helpers, Array.fromAsync, ArrayBuffer transfer,
// Symbol.dispose), URLPattern, Compression/DecompressionStream, scheduler.wait,
// crypto.DigestStream, crypto.subtle.timingSafeEqual, navigator.userAgent, HTMLRewriter, and
// structuredClone's edges (Blob, throwing getters, transfer), DOMException's name, BYOB pulls.
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { after, before, describe, test } from "node:test";
import { http, projectDir, startServer } from "../../harness.mjs";

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
});
after(async () => {
  await server?.stop();
});

let room = 0;
async function run(check, query = "") {
  const r = await http(server.host, `/parties/main/p${++room}/${check}${query}`);
  assert.equal(r.status, 200, r.text);
  const body = r.json();
  assert.equal(body.error, undefined, body.error);
  return body;
}

describe("ES built-ins newer than V8 10.2", { timeout: 30_000 }, () => {
  test("toSorted / toReversed / toSpliced / with, on arrays and typed arrays", async () => {
    assert.deepEqual(await run("arrays"), {
      toSorted: [1, 2, 3],
      toReversed: [2, 1, 3],
      toSpliced: [3, 9, 8, 2],
      with: [7, 1, 2],
      original: [3, 1, 2],
      typedSorted: [1, 2, 3],
      typedIsTyped: true,
      typedReversed: [2, 1, 3],
      typedWith: [3, 1, 5],
      findLast: 2,
      at: 2,
    });
  });

  test("Object.groupBy, Map.groupBy, Promise.withResolvers, isWellFormed / toWellFormed", async () => {
    assert.deepEqual(await run("grouping"), {
      byParity: { odd: [1, 3, 5], even: [2, 4] },
      nullProto: true,
      map: [[false, [1]], [true, [2, 3]]],
      withResolvers: 7,
      wellFormed: [true, false],
      toWellFormed: "a\uFFFDb",
    });
  });

  test("Set methods", async () => {
    assert.deepEqual(await run("sets"), {
      union: [1, 2, 3, 4],
      intersection: [3],
      difference: [1, 2],
      symmetricDifference: [1, 2, 4],
      isSubsetOf: true,
      isSupersetOf: true,
      isDisjointFrom: true,
    });
  });

  test("iterator helpers, Iterator.from, Array.fromAsync", async () => {
    assert.deepEqual(await run("iterators"), {
      helpers: [2, 4, 8, 10],
      drop: [20, 30],
      reduce: 6,
      some: true,
      flatMap: [1, 1, 2, 2],
      from: [0, 1],
      fromAsync: [1, 2],
      fromAsyncMapped: [10, 20],
    });
  });

  test("ArrayBuffer.prototype.transfer detaches the source", async () => {
    assert.deepEqual(await run("transfer"), {
      oldLength: 0,
      detached: true,
      moved: [1, 2, 3],
      movedDetached: false,
      grown: [5, 0, 0],
      fixed: [6],
      sliceOfDetached: "TypeError",
    });
  });

  test("Symbol.dispose and Symbol.asyncDispose", async () => {
    assert.deepEqual(await run("symbols"), { dispose: "symbol", asyncDispose: "symbol" });
  });
});

describe("structuredClone, DOMException, streams", { timeout: 30_000 }, () => {
  test("a Blob is a DataCloneError, a getter's exception is rethrown as is, transfer detaches", async () => {
    assert.deepEqual(await run("structuredClone"), {
      blob: { name: "DataCloneError", isDOMException: true },
      getter: { same: true, name: "RangeError" },
      transfer: { oldLength: 0, copy: [1, 2, 3] },
      fn: { name: "DataCloneError", message: "() => 1 could not be cloned." },
    });
  });

  test("DOMException's constructor is named DOMException", async () => {
    const seen = await run("domException");
    delete seen.tag; // workerd answers [object Object], V8's default for a class is the same
    assert.deepEqual(seen, {
      ctorName: "DOMException",
      instanceCtor: "DOMException",
      name: "AbortError",
      code: 20,
      isError: true,
    });
  });

  test("a BYOB reader's read reaches pull as controller.byobRequest", async () => {
    assert.deepEqual(await run("byob"), { sawRequest: { viewLength: 8 }, value: [1, 2, 3] });
  });
});

describe("web APIs workerd adds", { timeout: 30_000 }, () => {
  test("URLPattern", async () => {
    assert.deepEqual(await run("urlPattern"), {
      test: [true, false],
      groups: { id: "12" },
      pathname: "/books/:id(\\d+)",
      full: { 0: "b/c", kind: "a" },
    });
  });

  test("CompressionStream / DecompressionStream: gzip, deflate, deflate-raw, interchangeable with zlib", async () => {
    const gzip = zlib.gzipSync("from node gzip").toString("base64");
    const seen = await run("compression", `?gzip=${encodeURIComponent(gzip)}`);
    const text = "hello hello hello hello compression";
    const unpack = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, "deflate-raw": zlib.inflateRawSync };
    for (const [format, inflate] of Object.entries(unpack)) {
      assert.equal(seen[format].roundTrip, text, format);
      assert.equal(inflate(Buffer.from(seen[format].packed, "base64")).toString(), text, format);
    }
    assert.equal(seen.fromNode, "from node gzip");
    assert.deepEqual(seen.badFormat, {
      name: "TypeError",
      message: "The compression format must be either 'deflate', 'deflate-raw' or 'gzip'.",
    });
    assert.deepEqual(seen.corrupt, { name: "Error", message: "Decompression failed." });
  });

  test("DecompressionStream inflates 64 MiB from 64 KiB in pieces, as the reader reads", async () => {
    assert.deepEqual(await run("inflateLarge"), {
      packedUnder1MiB: true,
      total: 64 << 20,
      allZero: true,
      largestUnder1MiB: true,
      manyChunks: true,
      partChunks: 2,
    });
  });

  test("scheduler.wait resolves with undefined after its delay", async () => {
    assert.deepEqual(await run("scheduler"), { order: ["timeout", "wait:undefined"] });
  });

  test("crypto.DigestStream", async () => {
    assert.deepEqual(await run("digestStream"), {
      hex: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
      isWritable: true,
      bad: { name: "NotSupportedError", message: "Unrecognized or unimplemented digest algorithm requested." },
    });
  });

  test("crypto.subtle.timingSafeEqual", async () => {
    assert.deepEqual(await run("timingSafeEqual"), {
      same: true,
      differ: false,
      buffers: true,
      lengths: { name: "TypeError", message: "Input buffers must have the same byte length." },
    });
  });

  test("navigator.userAgent", async () => {
    assert.deepEqual(await run("navigator"), { userAgent: "Cloudflare-Workers" });
  });

  test("HTMLRewriter: attributes, prepend as HTML, escaped append, text chunks, comments removed", async () => {
    assert.deepEqual(await run("htmlRewriter"), {
      body: '<html><body><a href="/new">link</a><p class="x"><b>bold</b> text &amp; more</p></body></html>',
      seen: ["/old", "text:text"],
    });
  });
});
