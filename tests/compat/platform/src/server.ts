// Compat corpus: ES built-ins newer than V8 10.2 and the web APIs workerd adds to the platform
// (URLPattern, CompressionStream, scheduler.wait, crypto.DigestStream, timingSafeEqual,
// navigator.userAgent, HTMLRewriter), and structuredClone's edges. GET or POST
// /parties/main/<room>/<check> runs one check and answers its findings as JSON, or {error}.
import type * as Party from "partykit/server";

const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);
const errorOf = async (f: () => unknown) => {
  try {
    await f();
    return "no error";
  } catch (e) {
    return { name: (e as Error)?.name, message: (e as Error)?.message ?? String(e) };
  }
};
async function collect(stream: ReadableStream<Uint8Array>) {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
const through = (bytes: Uint8Array, transform: { readable: ReadableStream; writable: WritableStream }) =>
  collect(new Response(bytes).body!.pipeThrough(transform as TransformStream));
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const G = globalThis as any;

const checks: Record<string, (req: Party.Request) => unknown | Promise<unknown>> = {
  arrays() {
    const a = [3, 1, 2];
    const t = new Uint8Array([3, 1, 2]);
    return {
      toSorted: a.toSorted(),
      toReversed: a.toReversed(),
      toSpliced: a.toSpliced(1, 1, 9, 8),
      with: a.with(0, 7),
      original: a,
      typedSorted: [...t.toSorted()],
      typedIsTyped: t.toSorted() instanceof Uint8Array,
      typedReversed: [...t.toReversed()],
      typedWith: [...t.with(-1, 5)],
      findLast: a.findLast((x) => x > 1),
      at: a.at(-1),
    };
  },
  async grouping() {
    const byParity = Object.groupBy([1, 2, 3, 4, 5], (x) => (x % 2 ? "odd" : "even"));
    const map = Map.groupBy([1, 2, 3], (x) => x > 1);
    const { promise, resolve } = Promise.withResolvers<number>();
    resolve(7);
    return {
      byParity,
      nullProto: Object.getPrototypeOf(byParity) === null,
      map: [...map.entries()],
      withResolvers: await promise,
      wellFormed: ["ab", "a\uD800"].map((s) => s.isWellFormed()),
      toWellFormed: "a\uD800b".toWellFormed(),
    };
  },
  sets() {
    const a = new Set([1, 2, 3]);
    const b = new Set([3, 4]);
    return {
      union: [...a.union(b)],
      intersection: [...a.intersection(b)],
      difference: [...a.difference(b)],
      symmetricDifference: [...a.symmetricDifference(b)],
      isSubsetOf: new Set([1]).isSubsetOf(a),
      isSupersetOf: a.isSupersetOf(new Set([1, 2])),
      isDisjointFrom: a.isDisjointFrom(new Set([9])),
    };
  },
  async iterators() {
    function* naturals() {
      for (let i = 1; ; i++) yield i;
    }
    const it = naturals()
      .map((x: number) => x * 2)
      .filter((x: number) => x % 3 !== 0)
      .take(4);
    const from = G.Iterator.from({ next: (() => { let i = 0; return () => ({ done: i >= 2, value: i++ }); })() });
    async function* gen() {
      yield 1;
      yield 2;
    }
    return {
      helpers: it.toArray(),
      drop: [10, 20, 30].values().drop(1).toArray(),
      reduce: [1, 2, 3].values().reduce((s: number, x: number) => s + x, 0),
      some: [1, 2].values().some((x: number) => x === 2),
      flatMap: [1, 2].values().flatMap((x: number) => [x, x]).toArray(),
      from: from.toArray(),
      fromAsync: await Array.fromAsync(gen()),
      fromAsyncMapped: await Array.fromAsync([Promise.resolve(1), 2], (x: number) => x * 10),
    };
  },
  transfer() {
    const buf = new Uint8Array([1, 2, 3]).buffer;
    const moved = buf.transfer();
    const grown = new Uint8Array([5]).buffer.transfer(3);
    const fixed = new Uint8Array([6, 7]).buffer.transferToFixedLength(1);
    return {
      oldLength: buf.byteLength,
      detached: buf.detached,
      moved: [...new Uint8Array(moved)],
      movedDetached: moved.detached,
      grown: [...new Uint8Array(grown)],
      fixed: [...new Uint8Array(fixed)],
      sliceOfDetached: (() => {
        try {
          buf.slice(0);
          return "no error";
        } catch (e) {
          return (e as Error).name;
        }
      })(),
    };
  },
  symbols() {
    return {
      dispose: typeof Symbol.dispose,
      asyncDispose: typeof Symbol.asyncDispose,
    };
  },
  async structuredClone() {
    const blob = new Blob(["hello"], { type: "text/plain" });
    let blobResult: unknown;
    try {
      const copy = structuredClone(blob);
      blobResult = { cloned: true, isBlob: copy instanceof Blob, text: copy instanceof Blob ? await copy.text() : null };
    } catch (e) {
      blobResult = { name: (e as Error).name, isDOMException: e instanceof DOMException };
    }
    const thrown = new RangeError("from getter");
    let getter: unknown;
    try {
      structuredClone({ get x() { throw thrown; } });
      getter = "no error";
    } catch (e) {
      getter = { same: e === thrown, name: (e as Error).name };
    }
    const buf = new Uint8Array([1, 2, 3]).buffer;
    const copy = structuredClone({ buf }, { transfer: [buf] });
    const fn = await errorOf(() => structuredClone(() => 1));
    return {
      blob: blobResult,
      getter,
      transfer: { oldLength: buf.byteLength, copy: [...new Uint8Array(copy.buf)] },
      fn,
    };
  },
  domException() {
    const e = new DOMException("m", "AbortError");
    return {
      ctorName: DOMException.name,
      instanceCtor: e.constructor.name,
      tag: Object.prototype.toString.call(e),
      name: e.name,
      code: e.code,
      isError: e instanceof Error,
    };
  },
  async byob() {
    let sawRequest: unknown = null;
    const stream = new ReadableStream({
      type: "bytes",
      pull(controller) {
        const req = controller.byobRequest;
        sawRequest = req ? { viewLength: req.view!.byteLength } : null;
        if (req) {
          const view = req.view as Uint8Array;
          view.set([1, 2, 3].slice(0, view.byteLength));
          req.respond(Math.min(3, view.byteLength));
        } else {
          controller.enqueue(new Uint8Array([9]));
        }
        controller.close();
      },
    });
    const reader = stream.getReader({ mode: "byob" });
    const { value } = await reader.read(new Uint8Array(8));
    return { sawRequest, value: [...(value as Uint8Array)] };
  },
  urlPattern() {
    const p = new G.URLPattern({ pathname: "/books/:id(\\d+)" });
    const full = new G.URLPattern("https://example.com/:kind/*?");
    return {
      test: [p.test("https://x.com/books/12"), p.test("https://x.com/books/ab")],
      groups: p.exec("https://x.com/books/12").pathname.groups,
      pathname: p.pathname,
      full: full.exec("https://example.com/a/b/c").pathname.groups,
    };
  },
  async compression(req) {
    const text = "hello hello hello hello compression";
    const out: Record<string, unknown> = {};
    for (const format of ["gzip", "deflate", "deflate-raw"]) {
      const packed = await through(utf8(text), new G.CompressionStream(format));
      const unpacked = await through(packed, new G.DecompressionStream(format));
      out[format] = { roundTrip: new TextDecoder().decode(unpacked), packed: b64(packed) };
    }
    // Node's zlib output, sent by the test script, decompressed here.
    const fromNode = new URL(req.url).searchParams.get("gzip");
    if (fromNode) {
      out.fromNode = new TextDecoder().decode(await through(unb64(fromNode), new G.DecompressionStream("gzip")));
    }
    out.badFormat = await errorOf(() => new G.CompressionStream("brotli"));
    out.corrupt = await errorOf(() => through(utf8("not gzip at all"), new G.DecompressionStream("gzip")));
    return out;
  },
  // 64 MiB of zeros gzip to about 64 KiB: decompressed while read piece by piece, and once read
  // only in part and then cancelled.
  async inflateLarge() {
    const zeros = new Uint8Array(1 << 20);
    const packer = new G.CompressionStream("gzip");
    const writer = packer.writable.getWriter();
    const packedP = new Response(packer.readable).arrayBuffer();
    for (let i = 0; i < 64; i++) await writer.write(zeros);
    await writer.close();
    const packed = new Uint8Array(await packedP);
    const read = async (stopAfter: number) => {
      const d = new G.DecompressionStream("gzip");
      const w = d.writable.getWriter();
      w.write(packed).catch(() => {});
      w.close().catch(() => {});
      const reader = d.readable.getReader();
      let total = 0, chunks = 0, largest = 0, allZero = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        chunks++;
        largest = Math.max(largest, value.byteLength);
        if (value[0] !== 0 || value[value.byteLength - 1] !== 0) allZero = false;
        if (chunks === stopAfter) {
          await reader.cancel();
          break;
        }
      }
      return { total, chunks, largest, allZero };
    };
    const whole = await read(0);
    const part = await read(2);
    return {
      packedUnder1MiB: packed.byteLength < 1 << 20,
      total: whole.total,
      allZero: whole.allZero,
      largestUnder1MiB: whole.largest <= 1 << 20,
      manyChunks: whole.chunks > 1,
      partChunks: part.chunks,
    };
  },
  async scheduler() {
    // Timers order by deadline (workerd freezes Date.now within a request, so no clock reading).
    const order: string[] = [];
    const waited = G.scheduler.wait(30).then((v: unknown) => order.push(`wait:${v}`));
    const timeout = new Promise((r) => setTimeout(r, 5)).then(() => order.push("timeout"));
    await Promise.all([waited, timeout]);
    return { order };
  },
  async digestStream() {
    const stream = new G.crypto.DigestStream("SHA-256");
    const writer = stream.getWriter();
    await writer.write(utf8("hello "));
    await writer.write(utf8("world"));
    await writer.close();
    const digest = await stream.digest;
    return {
      hex: hex(digest),
      isWritable: stream instanceof WritableStream,
      bad: await errorOf(() => new G.crypto.DigestStream("NOPE")),
    };
  },
  async timingSafeEqual() {
    const s = G.crypto.subtle;
    return {
      same: s.timingSafeEqual(utf8("abc"), utf8("abc")),
      differ: s.timingSafeEqual(utf8("abc"), utf8("abd")),
      buffers: s.timingSafeEqual(utf8("xy").buffer, new Uint8Array([120, 121]).buffer),
      lengths: await errorOf(() => s.timingSafeEqual(utf8("a"), utf8("ab"))),
    };
  },
  navigator() {
    return { userAgent: G.navigator?.userAgent ?? null };
  },
  async htmlRewriter() {
    const html = '<html><body><a href="/old">link</a><p class="x">text</p><!-- note --></body></html>';
    const seen: string[] = [];
    const rewritten = new G.HTMLRewriter()
      .on("a[href]", {
        element(el: any) {
          seen.push(el.getAttribute("href"));
          el.setAttribute("href", "/new");
        },
      })
      .on("p.x", {
        element(el: any) {
          el.prepend("<b>bold</b> ", { html: true });
          el.append(" & more");
        },
        text(t: any) {
          if (t.text) seen.push("text:" + t.text);
        },
      })
      .onDocument({
        comments(c: any) {
          c.remove();
        },
      })
      .transform(new Response(html, { headers: { "content-type": "text/html" } }));
    return { body: await rewritten.text(), seen };
  },
};

export default class Server implements Party.Server {
  constructor(readonly room: Party.Room) {}

  async onRequest(req: Party.Request) {
    const name = new URL(req.url).pathname.split("/").pop()!;
    const check = checks[name];
    if (!check) return new Response(`no check ${name}`, { status: 404 });
    try {
      return Response.json(await check(req));
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) });
    }
  }
}
