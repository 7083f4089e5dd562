// Compat corpus, feature 3: the web platform inside party code. GET or POST
// /parties/main/<room>/<check>?... runs one check and answers its findings as JSON, or {error}
// if the check threw. Checks that talk to the outside (fetch, WebSocket) get the address of the
// servers the test script started in the query: `base` (http://) and `ws` (ws://).
import { SignJWT, generateKeyPair, jwtVerify } from "jose";
import type * as Party from "partykit/server";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const param = (req: Party.Request, name: string) => new URL(req.url).searchParams.get(name) ?? "";
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);
async function readAllText(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += new TextDecoder().decode(value);
  }
}
const errorOf = async (f: () => unknown) => {
  try {
    await f();
    return "no error";
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message, isTypeError: e instanceof TypeError };
  }
};

// A secret for HS256 that the test script shares (jose wants at least 256 bits).
const JWT_SECRET = utf8("compat-corpus-shared-secret-of-32+bytes");

const checks: Record<string, (req: Party.Request) => unknown | Promise<unknown>> = {
  async fetchTypes(req) {
    const headers = new Headers({ "Content-Type": "text/plain", "X-A": "1" });
    headers.append("x-a", "2");
    headers.set("X-B", "b");
    const r = new Request("http://example.com/p?q=1", {
      method: "POST",
      headers,
      body: JSON.stringify({ k: "v" }),
    });
    const clone = r.clone();
    const res = new Response("body text", { status: 201, statusText: "Made", headers: { "x-r": "r" } });
    const json = Response.json({ a: 1 });
    const bytes = new Response(new Uint8Array([104, 105]));
    return {
      headerA: headers.get("x-a"),
      headerHas: headers.has("X-B"),
      headerKeys: [...headers.keys()],
      method: r.method,
      url: r.url,
      body: await r.json(),
      cloneBody: await clone.text(),
      status: res.status,
      statusText: res.statusText,
      ok: res.ok,
      resHeader: res.headers.get("X-R"),
      resText: await res.text(),
      jsonType: json.headers.get("content-type"),
      jsonBody: await json.json(),
      bytesText: await bytes.text(),
      incomingMethod: req.method,
      incomingHeader: req.headers.get("x-probe"),
      incomingBody: req.method === "POST" ? await req.text() : null,
    };
  },
  url() {
    const u = new URL("https://user:pw@example.com:8443/a/b/../c?x=1&y=two#frag");
    const p = new URLSearchParams("a=1&b=2&a=3");
    p.append("c", "x y");
    p.sort();
    return {
      href: u.href,
      host: u.host,
      hostname: u.hostname,
      port: u.port,
      pathname: u.pathname,
      search: u.search,
      hash: u.hash,
      x: u.searchParams.get("x"),
      all: p.getAll("a"),
      serialized: p.toString(),
      relative: new URL("../d?z", "http://h/a/b/c").href,
    };
  },
  text() {
    const enc = new TextEncoder().encode("héllo ✓ 😀");
    return {
      encoded: [...enc],
      decoded: new TextDecoder().decode(enc),
      utf8Label: new TextDecoder("utf-8").encoding,
      btoa: btoa("hello world"),
      atob: atob("aGVsbG8gd29ybGQ="),
      btoaBinary: btoa(String.fromCharCode(0, 255, 128)),
    };
  },
  clone() {
    const when = new Date(Date.UTC(2020, 1, 3, 4, 5, 6, 7));
    const src = { when, map: new Map<string, unknown>([["k", { deep: [1, 2] }]]), set: new Set([1, 2]) };
    const copy = structuredClone(src);
    return {
      distinct: copy !== src && copy.map !== src.map,
      dateIsDate: copy.when instanceof Date,
      date: copy.when.toISOString(),
      mapIsMap: copy.map instanceof Map,
      mapEntry: copy.map.get("k"),
      setIsSet: copy.set instanceof Set,
      setValues: [...copy.set],
    };
  },
  crypto() {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return {
      a,
      b,
      length: bytes.length,
      nonZero: bytes.some((x) => x !== 0),
      hasSubtle: typeof crypto.subtle?.digest === "function",
    };
  },
  async digest() {
    const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc"));
    return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
  },
  async timers() {
    const order: string[] = [];
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const cancelled = setTimeout(() => order.push("cancelled-timeout"), 10);
      clearTimeout(cancelled);
      setTimeout(() => order.push("timeout-20"), 20);
      setTimeout(() => order.push("timeout-0"), 0);
      let ticks = 0;
      const iv = setInterval(() => {
        ticks++;
        order.push(`interval-${ticks}`);
        if (ticks === 3) {
          clearInterval(iv);
          setTimeout(resolve, 40);
        }
      }, 15);
    });
    return { order, elapsedAtLeast45: Date.now() - t0 >= 45 };
  },
  async microtasks() {
    const order: string[] = [];
    setTimeout(() => order.push("timeout"), 0);
    queueMicrotask(() => order.push("microtask-1"));
    Promise.resolve().then(() => order.push("promise"));
    queueMicrotask(() => order.push("microtask-2"));
    order.push("sync");
    await sleep(10);
    return order;
  },
  console() {
    console.log("webapi: console.log works", { nested: [1, 2] });
    console.info("webapi: info");
    console.warn("webapi: warn");
    console.error("webapi: error");
    console.debug("webapi: debug");
    return "ok";
  },
  globals() {
    return {
      fetch: typeof fetch,
      WebSocket: typeof WebSocket,
      AbortController: typeof AbortController,
      ReadableStream: typeof ReadableStream,
      Blob: typeof Blob,
      FormData: typeof FormData,
      globalThis: typeof globalThis,
    };
  },
  async streams() {
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("chunk1,"));
        controller.enqueue(new TextEncoder().encode("chunk2"));
        controller.close();
      },
    });
    const blob = new Blob(["ab", "cd"], { type: "text/plain" });
    return {
      streamed: await new Response(stream).text(),
      blobSize: blob.size,
      blobText: await blob.text(),
    };
  },

  // ---- outbound fetch, against the test script's HTTP server ----
  async fetchOut(req) {
    const base = param(req, "base");
    const get = await fetch(`${base}/hello?x=1`, { headers: { "x-from": "party" } });
    const post = await fetch(`${base}/echo`, {
      method: "POST",
      body: JSON.stringify({ a: 1 }),
      headers: { "content-type": "application/json" },
    });
    const redirected = await fetch(`${base}/redirect`);
    const notFound = await fetch(`${base}/missing`);
    const viaRequest = await fetch(new Request(`${base}/echo`, { method: "PUT", body: "from a Request" }));
    return {
      get: { status: get.status, text: await get.text(), header: get.headers.get("x-reply") },
      post: await post.json(),
      redirected: {
        status: redirected.status,
        redirected: redirected.redirected,
        url: redirected.url.replace(base, "<base>"),
        text: await redirected.text(),
      },
      notFound: { status: notFound.status, ok: notFound.ok, text: await notFound.text() },
      viaRequest: await viaRequest.json(),
    };
  },
  async abort(req) {
    const base = param(req, "base");
    const controller = new AbortController();
    const events: string[] = [];
    controller.signal.addEventListener("abort", () => events.push("abort"));
    controller.abort(new Error("stopped by the party"));
    const preAborted = await errorOf(() => fetch(`${base}/slow`, { signal: controller.signal }));
    const t0 = Date.now();
    const timedOut = await errorOf(() => fetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }));
    const elapsed = Date.now() - t0;
    const late = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: late.signal }).then(
      () => "resolved",
      (e) => (e as Error).name,
    );
    setTimeout(() => late.abort(), 50);
    return {
      aborted: controller.signal.aborted,
      reason: (controller.signal.reason as Error).message,
      events,
      throwIfAborted: await errorOf(() => controller.signal.throwIfAborted()),
      staticAbort: AbortSignal.abort().aborted,
      preAborted,
      timedOut: (timedOut as { name: string }).name,
      timeoutWithinASecond: elapsed < 1000,
      abortedLater: await pending,
    };
  },
  // ---- crypto.subtle and jose ----
  async subtle() {
    const data = utf8("The quick brown fox jumps over the lazy dog");
    const hmac = await crypto.subtle.importKey("raw", utf8("key"), { name: "HMAC", hash: "SHA-256" }, true, [
      "sign",
      "verify",
    ]);
    const sig = await crypto.subtle.sign("HMAC", hmac, data);
    const jwk = await crypto.subtle.exportKey("jwk", hmac);
    const fromJwk = await crypto.subtle.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const ec = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const ecSig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ec.privateKey, data);
    const ecJwk = await crypto.subtle.exportKey("jwk", ec.publicKey);
    const ecPublic = await crypto.subtle.importKey("jwk", ecJwk, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "verify",
    ]);
    const aesKey = await crypto.subtle.importKey("raw", new Uint8Array(16).fill(7), "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    const iv = new Uint8Array(12).fill(1);
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aesKey, utf8("secret"));
    const opened = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, aesKey, sealed);
    return {
      sha1: hex(await crypto.subtle.digest("SHA-1", utf8("abc"))),
      sha512: hex(await crypto.subtle.digest({ name: "SHA-512" }, utf8("abc"))).slice(0, 32),
      hmac: hex(sig),
      hmacVerifies: await crypto.subtle.verify("HMAC", hmac, sig, data),
      hmacRejects: await crypto.subtle.verify("HMAC", hmac, sig, utf8("another message")),
      jwk: { kty: jwk.kty, alg: jwk.alg, k: jwk.k, ext: jwk.ext },
      fromJwk: hex(await crypto.subtle.sign("HMAC", fromJwk, data)),
      keyInfo: { type: hmac.type, extractable: hmac.extractable, usages: [...hmac.usages].sort(), algorithm: hmac.algorithm.name },
      ecJwk: { kty: ecJwk.kty, crv: ecJwk.crv, hasX: typeof ecJwk.x, hasD: "d" in ecJwk },
      ecVerifies: await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ecPublic, ecSig, data),
      aesGcm: { sealedBytes: sealed.byteLength, opened: new TextDecoder().decode(opened) },
      badAlgorithm: await errorOf(() => crypto.subtle.digest("SHA-0", utf8("abc"))),
    };
  },
  async jose(req) {
    // A fixed iat makes the HS256 token deterministic: the test compares it with Node's jose.
    const token = await new SignJWT({ room: "lobby" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setIssuedAt(1700000000)
      .sign(JWT_SECRET);
    const { payload, protectedHeader } = await jwtVerify(token, JWT_SECRET);
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const es = await new SignJWT({ n: 1 }).setProtectedHeader({ alg: "ES256" }).sign(privateKey);
    const wrongSecret = utf8("a-different-secret-that-is-also-32-bytes");
    let tampered = "accepted";
    try {
      await jwtVerify(token, wrongSecret);
    } catch (e) {
      tampered = (e as { code: string }).code;
    }
    return {
      token,
      payload,
      alg: protectedHeader.alg,
      es256: (await jwtVerify(es, publicKey)).payload,
      fromClient: (await jwtVerify(param(req, "token"), JWT_SECRET)).payload,
      tampered,
    };
  },
  // workerd's digest also knows MD5, outside WebCrypto.
  async md5() {
    return hex(await crypto.subtle.digest("MD5", utf8("abc")));
  },
  // ---- events ----
  events() {
    const target = new EventTarget();
    const seen: string[] = [];
    const onPing = (e: Event) => seen.push(`${e.type}:${String((e as CustomEvent).detail ?? "-")}`);
    target.addEventListener("ping", onPing);
    target.addEventListener("ping", () => seen.push("once"), { once: true });
    target.dispatchEvent(new CustomEvent("ping", { detail: 1 }));
    target.dispatchEvent(new CustomEvent("ping", { detail: 2 }));
    target.removeEventListener("ping", onPing);
    target.dispatchEvent(new Event("ping"));
    const cancelable = new Event("x", { cancelable: true });
    target.addEventListener("x", (e) => e.preventDefault());
    const dispatchResult = target.dispatchEvent(cancelable);
    class Emitter extends EventTarget {
      fire() {
        this.dispatchEvent(new CustomEvent("fired", { detail: { ok: true } }));
      }
    }
    const emitter = new Emitter();
    let fromSubclass: unknown = null;
    emitter.addEventListener("fired", (e) => {
      fromSubclass = { detail: (e as CustomEvent).detail, type: e.type };
    });
    emitter.fire();
    return {
      seen,
      defaultPrevented: cancelable.defaultPrevented,
      dispatchResult,
      customIsEvent: new CustomEvent("y") instanceof Event,
      fromSubclass,
    };
  },
  // ---- outgoing WebSocket, against the test script's ws server ----
  async wsClient(req) {
    const ws = new WebSocket(`${param(req, "ws")}/socket?x=1`);
    const got: string[] = [];
    const states: number[] = [ws.readyState];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout, got ${JSON.stringify(got)}`)), 4000);
      ws.addEventListener("open", () => {
        states.push(ws.readyState);
        ws.send("text");
        ws.send(new Uint8Array([1, 2, 3]));
      });
      ws.addEventListener("message", (e: MessageEvent) => {
        const d = e.data;
        got.push(typeof d === "string" ? d : `${Object.prototype.toString.call(d)} ${[...new Uint8Array(d)].join(",")}`);
        if (got.length === 3) ws.close(1000, "done");
      });
      ws.addEventListener("close", (e: CloseEvent) => {
        clearTimeout(timer);
        got.push(`close ${e.code} ${e.reason}`);
        resolve();
      });
      ws.addEventListener("error", () => reject(new Error("WebSocket error")));
    });
    states.push(ws.readyState);
    return { got, states, constants: [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED] };
  },
  performance() {
    const p = (globalThis as { performance?: { now?: () => number } }).performance;
    if (typeof p?.now !== "function") return { has: false };
    const a = p.now();
    const b = p.now();
    return { has: true, number: typeof a, monotonic: b >= a };
  },
  // ---- TextDecoder beyond UTF-8, URL host processing, urlencoded edge cases ----
  textDecoderEncodings() {
    const decode = (label: string, bytes: number[], options?: TextDecoderOptions) =>
      new TextDecoder(label, options).decode(new Uint8Array(bytes));
    const le = new TextDecoder("utf-16le");
    const streamed = [le.decode(new Uint8Array([0xff, 0xfe, 0x68]), { stream: true }),
      le.decode(new Uint8Array([0x00, 0x3d, 0xd8]), { stream: true }),
      le.decode(new Uint8Array([0x00, 0xde]))];
    return {
      labels: ["utf-16", " UTF-16BE\n", "\tlatin1", "ascii", "gb2312", "cp1251", "iso-8859-2", "koi8-r",
        "euc-kr"].map((label) => new TextDecoder(label).encoding),
      utf16le: decode("utf-16le", [0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]),
      utf16be: decode("utf-16be", [0xfe, 0xff, 0x00, 0x68, 0x00, 0x69]),
      utf16KeepBom: decode("utf-16le", [0xff, 0xfe, 0x68, 0x00], { ignoreBOM: true }).length,
      utf16Odd: decode("utf-16le", [0x68, 0x00, 0x69]),
      utf16LoneSurrogate: decode("utf-16le", [0x3d, 0xd8, 0x41, 0x00]),
      utf16Fatal: (() => {
        try {
          decode("utf-16le", [0x3d, 0xd8], { fatal: true });
          return "no error";
        } catch (e) {
          return (e as Error).name;
        }
      })(),
      streamed,
      windows1252: decode("windows-1252", [0x80, 0x41, 0xe9]),
      windows1251: decode("windows-1251", [0xcf, 0xf0, 0xe8]),
      latin2: decode("iso-8859-2", [0xa1, 0xb1]),
      shiftJis: decode("shift_jis", [0x93, 0xfa, 0x96, 0x7b]),
      gbk: decode("gbk", [0xd6, 0xd0, 0xce, 0xc4]),
      big5: decode("big5", [0xa4, 0xa4, 0xa4, 0xe5]),
      eucKr: decode("euc-kr", [0xc7, 0xd1, 0xb1, 0xdb]),
      eucJp: decode("euc-jp", [0xc6, 0xfc, 0xcb, 0xdc]),
      iso2022jp: decode("iso-2022-jp", [0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x1b, 0x28, 0x42]),
      replacement: (() => {
        try {
          new TextDecoder("iso-2022-kr");
          return "no error";
        } catch (e) {
          return (e as Error).name;
        }
      })(),
      unknownLabel: (() => {
        try {
          new TextDecoder("utf-8\u00a0");
          return "no error";
        } catch (e) {
          return (e as Error).name;
        }
      })(),
    };
  },
  urlHosts() {
    const host = (input: string) => {
      try {
        return new URL(input).host;
      } catch (e) {
        return (e as Error).name;
      }
    };
    return {
      umlaut: host("http://Bücher.example/"),
      sharpS: host("http://faß.example/"),
      fullwidth: host("http://ｅｘａｍｐｌｅ．com/"),
      ideographicStop: host("http://例え。テスト/"),
      emoji: host("http://☃.example/"),
      zeroWidthJoiner: host("http://a\u200db.example/"),
      replacementChar: host("http://\ufffd.example/"),
      bidiMix: host("http://\u05d0a.example/"),
      softHyphen: host("http://ex\u00adample.com/"),
      percentEncoded: host("http://%E2%98%83.example/"),
    };
  },
  urlQueryAndRecord() {
    const url = new URL("??a=b&c=d", "http://example.org/foo/bar");
    const merged = new URLSearchParams({ "\uD835x": "1", xx: "2", "\uD83Dx": "3" });
    return {
      search: url.search,
      params: [...url.searchParams],
      serialized: url.searchParams.toString(),
      merged: [...merged],
      mergedText: merged.toString(),
    };
  },
  async formDataBom() {
    const body = "\ufefftest=\ufeff&%EF%BB%BFx=%EF%BB%BF";
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    const fromRequest = await new Request("http://example.com/", { method: "POST", body, headers }).formData();
    const fromResponse = await new Response(body, { headers }).formData();
    const codes = (fd: FormData) => [...fd].map(([k, v]) => [[...k].map((c) => c.charCodeAt(0)),
      [...(v as string)].map((c) => c.charCodeAt(0))]);
    return { request: codes(fromRequest), response: codes(fromResponse) };
  },
  // ---- Blob, FormData, streams ----
  async formData(req) {
    const fd = new FormData();
    fd.append("a", "1");
    fd.append("a", "2");
    fd.append("file", new Blob(["xyz"], { type: "text/plain" }), "f.txt");
    const res = new Response(fd);
    const back = await res.formData();
    const file = back.get("file") as File;
    const incoming = await req.formData();
    const upload = incoming.get("upload") as File;
    const urlencoded = await new Response("k=v+w&k=2", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }).formData();
    return {
      multipart: /^multipart\/form-data;\s*boundary=/.test(res.headers.get("content-type") ?? ""),
      a: back.getAll("a"),
      file: { isFile: file instanceof File, name: file.name, type: file.type, text: await file.text() },
      incoming: {
        field: incoming.get("field"),
        upload: { name: upload.name, size: upload.size, text: await upload.text() },
      },
      urlencoded: urlencoded.getAll("k"),
    };
  },
  async blob() {
    const blob = new Blob(["hello ", new Uint8Array([119, 111]), new Blob(["rld"])], { type: "text/plain" });
    const slice = blob.slice(6, 11, "text/x-slice");
    const streamed = await new Response(blob.stream()).text();
    return {
      size: blob.size,
      type: blob.type,
      text: await blob.text(),
      bytes: [...new Uint8Array(await slice.arrayBuffer())],
      sliceType: slice.type,
      sliceText: await slice.text(),
      streamed,
    };
  },
  async streams2() {
    const upper = new TransformStream<string, string>({
      transform(chunk, controller) {
        controller.enqueue(chunk.toUpperCase());
      },
    });
    const collected: string[] = [];
    const sink = new WritableStream<string>({
      write(chunk) {
        collected.push(chunk);
      },
    });
    const source = new ReadableStream<string>({
      start(controller) {
        for (const c of ["a", "b", "c"]) controller.enqueue(c);
        controller.close();
      },
    });
    await source.pipeThrough(upper).pipeTo(sink);
    const [left, right] = new ReadableStream({
      start(c) {
        c.enqueue(utf8("tee"));
        c.close();
      },
    }).tee();
    const reader = new Response(new ReadableStream({
      pull(c) {
        c.enqueue(utf8("pulled"));
        c.close();
      },
    })).body!.getReader();
    const first = await reader.read();
    return {
      collected,
      tee: await Promise.all([left, right].map(readAllText)),
      pulled: new TextDecoder().decode(first.value),
      textStream: await new Response(
        new Blob(["x-y"]).stream().pipeThrough(new TextDecoderStream()).pipeThrough(
          new TransformStream<string, Uint8Array>({
            transform(chunk, c) {
              c.enqueue(utf8(chunk.replace("-", "+")));
            },
          }),
        ),
      ).text(),
    };
  },
  // ---- what is not there: a TypeError that names it ----
  async unsupported() {
    return {
      ftp: await errorOf(() => fetch("ftp://127.0.0.1/file")),
      file: await errorOf(() => fetch("file:///etc/passwd")),
      wsScheme: await errorOf(() => new WebSocket("ftp://127.0.0.1/")),
    };
  },
};

export default class WebApi implements Party.Server {
  constructor(readonly room: Party.Room) {}

  async onRequest(req: Party.Request) {
    const name = new URL(req.url).pathname.split("/")[4] ?? "";
    const check = checks[name];
    if (!check) return new Response(`no check ${name}`, { status: 404 });
    try {
      return Response.json({ result: await check(req) });
    } catch (e) {
      return Response.json({ error: String((e as Error)?.stack ?? e) });
    }
  }
}
