// Headers, Request, Response, bodies, Blob/File/FormData, and the hooks the C++ glue uses
// (makeRequest, responseParts, responsePartsSync, bodyToBytes). Node's own fetch classes serve
// as the reference where behaviour is shared.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  g,
  makeRequest,
  makeResponse,
  responseParts,
  responsePartsSync,
  bodyToBytes,
  inspect,
} from "./web_harness.mjs";

describe("Headers", () => {
  test("case-insensitive access, combining and sorted iteration", () => {
    const h = new g.Headers({ "X-B": "2", "x-a": "1" });
    h.append("X-A", " 3 ");
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    assert.equal(h.get("x-a"), "1, 3");
    assert.equal(h.get("X-MISSING"), null);
    assert.equal(h.has("X-B"), true);
    assert.deepEqual(h.getSetCookie(), ["a=1", "b=2"]);
    assert.deepEqual([...h], [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-a", "1, 3"], ["x-b", "2"]]);
    assert.deepEqual([...h.keys()], [...new Headers([...h]).keys()]);
    h.set("x-a", "z");
    assert.equal(h.get("x-a"), "z");
    h.delete("X-B");
    assert.deepEqual([...h.keys()], ["set-cookie", "set-cookie", "x-a"]);
    const seen = [];
    h.forEach((v, k, self) => seen.push([k, v, self === h]));
    assert.equal(seen.length, 3);
  });

  test("construction from arrays, Headers and Maps; validation", () => {
    const fromPairs = new g.Headers([["a", "1"], ["a", "2"]]);
    assert.equal(fromPairs.get("a"), "1, 2");
    assert.equal(new g.Headers(fromPairs).get("A"), "1, 2");
    assert.equal(new g.Headers(new Map([["m", "v"]])).get("m"), "v");
    assert.throws(() => new g.Headers([["a"]]), TypeError);
    assert.throws(() => new g.Headers({ "bad name": "x" }), TypeError);
    assert.throws(() => new g.Headers({ a: "x\ny" }), TypeError);
    assert.throws(() => new g.Headers({ a: "✓" }), TypeError);
    assert.throws(() => new g.Headers().get("a b"), TypeError);
    assert.throws(() => new g.Headers(5), TypeError);
    assert.equal(Object.prototype.toString.call(new g.Headers()), "[object Headers]");
    assert.equal(inspect(new g.Headers({ a: "1" })), "Headers { a: '1' }");
  });
});

describe("Request", () => {
  test("url, method normalisation, headers and body", async () => {
    const req = new g.Request("http://example.com/p?q=1", {
      method: "post",
      headers: { "X-A": "1" },
      body: JSON.stringify({ k: "v" }),
    });
    assert.equal(req.url, "http://example.com/p?q=1");
    assert.equal(req.method, "POST");
    assert.equal(req.headers.get("x-a"), "1");
    assert.equal(req.headers.get("content-type"), "text/plain;charset=UTF-8");
    assert.equal(req.redirect, "follow");
    assert.deepEqual(req.cf, {});
    assert.equal(req.signal.aborted, false);
    const copy = req.clone();
    assert.deepEqual(await req.json(), { k: "v" });
    assert.equal(req.bodyUsed, true);
    await assert.rejects(req.text(), TypeError);
    assert.equal(await copy.text(), '{"k":"v"}');
    assert.equal(new g.Request("http://a/", { method: "patch" }).method, "patch");
    assert.equal(new g.Request(new g.URL("http://a/b")).url, "http://a/b");
  });

  test("rejects bad input", () => {
    assert.throws(() => new g.Request("/relative"), TypeError);
    assert.throws(() => new g.Request("http://u:p@a/"), TypeError);
    assert.throws(() => new g.Request("http://a/", { method: "bad method" }), TypeError);
    assert.throws(() => new g.Request("http://a/", { method: "TRACE" }), TypeError);
    assert.throws(() => new g.Request("http://a/", { body: "x" }), TypeError);
    assert.throws(() => new g.Request("http://a/", { method: "HEAD", body: "x" }), TypeError);
    assert.throws(() => new g.Request("http://a/", { redirect: "nope" }), TypeError);
    assert.throws(() => new g.Request("http://a/", { signal: {} }), TypeError);
  });

  test("new Request(request, init) moves the body and inherits fields", async () => {
    const controller = new g.AbortController();
    const original = new g.Request("http://a/x", {
      method: "PUT",
      body: "data",
      signal: controller.signal,
      cf: { colo: "X" },
    });
    const derived = new g.Request(original, { headers: { "x-new": "1" } });
    assert.equal(derived.method, "PUT");
    assert.equal(derived.url, "http://a/x");
    assert.equal(derived.headers.get("x-new"), "1");
    assert.equal(derived.headers.get("content-type"), null);
    assert.deepEqual(derived.cf, { colo: "X" });
    assert.equal(original.bodyUsed, true);
    assert.equal(await derived.text(), "data");
    assert.throws(() => new g.Request(original), TypeError);
    controller.abort("stop");
    assert.equal(derived.signal.aborted, true);
    assert.equal(derived.signal.reason, "stop");
  });

  test("formData() parses urlencoded and multipart bodies", async () => {
    const form = await new g.Request("http://a/", {
      method: "POST",
      body: new g.URLSearchParams({ a: "1", b: "x y" }),
    }).formData();
    assert.deepEqual([...form], [["a", "1"], ["b", "x y"]]);

    const fd = new g.FormData();
    fd.append("field", "välue\n2");
    fd.append("file", new g.Blob(["file body"], { type: "text/plain" }), "f.txt");
    const req = new g.Request("http://a/", { method: "POST", body: fd });
    assert.match(req.headers.get("content-type"), /^multipart\/form-data; boundary=/);
    const round = await req.clone().formData();
    assert.equal(round.get("field"), "välue\r\n2");
    const file = round.get("file");
    assert.equal(file.name, "f.txt");
    assert.equal(file.type, "text/plain");
    assert.equal(await file.text(), "file body");
    // Node's parser reads what we serialised.
    const nodeForm = await new Request("http://a/", {
      method: "POST",
      headers: { "content-type": req.headers.get("content-type") },
      body: Buffer.from(await req.arrayBuffer()),
    }).formData();
    assert.equal(nodeForm.get("field"), "välue\r\n2");
    assert.equal(await nodeForm.get("file").text(), "file body");
    await assert.rejects(new g.Request("http://a/", { method: "POST", body: "x" }).formData(), TypeError);
  });

  test("stream bodies", async () => {
    const body = g.ReadableStream.from([new TextEncoder().encode("chunk1,"), new TextEncoder().encode("chunk2")]);
    const req = new g.Request("http://a/", { method: "POST", body });
    assert.equal(req.body, body);
    assert.equal(await req.text(), "chunk1,chunk2");
    const bad = new g.Request("http://a/", { method: "POST", body: g.ReadableStream.from(["str"]) });
    await assert.rejects(bad.arrayBuffer(), TypeError);
  });
});

describe("Response", () => {
  test("defaults, status checks and body types", async () => {
    const r = new g.Response("body text", { status: 201, statusText: "Made", headers: { "x-r": "r" } });
    assert.equal(r.status, 201);
    assert.equal(r.statusText, "Made");
    assert.equal(r.ok, true);
    assert.equal(r.type, "default");
    assert.equal(r.url, "");
    assert.equal(r.redirected, false);
    assert.equal(r.webSocket, null);
    assert.equal(await r.text(), "body text");
    assert.equal(new g.Response().status, 200);
    assert.equal(new g.Response().body, null);
    assert.equal(await new g.Response().text(), "");
    assert.equal(new g.Response(null, { status: 404 }).ok, false);
    assert.throws(() => new g.Response("", { status: 199 }), RangeError);
    assert.throws(() => new g.Response("", { status: 600 }), RangeError);
    assert.throws(() => new g.Response("x", { status: 204 }), TypeError);
    assert.throws(() => new g.Response("", { statusText: "a\nb" }), TypeError);
    const ws = {};
    assert.equal(new g.Response(null, { status: 101, webSocket: ws }).webSocket, ws);
    assert.throws(() => new g.Response(null, { status: 101 }), RangeError);
  });

  test("each BodyInit sets its content type and bytes", async () => {
    const cases = [
      ["text", "text/plain;charset=UTF-8", "text"],
      [new Uint8Array([104, 105]), null, "hi"],
      [new Uint8Array([0, 104, 105]).subarray(1), null, "hi"],
      [new Uint8Array([104, 105]).buffer, null, "hi"],
      [new DataView(new Uint8Array([104, 105]).buffer), null, "hi"],
      [new g.Blob(["b"], { type: "x/y" }), "x/y", "b"],
      [new g.URLSearchParams("a=1"), "application/x-www-form-urlencoded;charset=UTF-8", "a=1"],
      [42, "text/plain;charset=UTF-8", "42"],
    ];
    for (const [init, type, text] of cases) {
      const r = new g.Response(init);
      assert.equal(r.headers.get("content-type"), type, String(init));
      assert.equal(await r.text(), text);
    }
    const explicit = new g.Response("x", { headers: { "content-type": "a/b" } });
    assert.equal(explicit.headers.get("content-type"), "a/b");
  });

  test("json, redirect and error", async () => {
    const j = g.Response.json({ a: 1 }, { status: 202, headers: { "x-h": "1" } });
    assert.equal(j.status, 202);
    assert.equal(j.headers.get("content-type"), "application/json");
    assert.deepEqual(await j.json(), { a: 1 });
    assert.throws(() => g.Response.json(undefined), TypeError);
    const r = g.Response.redirect("http://a/b c", 301);
    assert.equal(r.status, 301);
    assert.equal(r.headers.get("location"), "http://a/b%20c");
    assert.throws(() => r.headers.set("x", "y"), TypeError);
    assert.equal(g.Response.redirect("http://a/").status, 302);
    assert.throws(() => g.Response.redirect("http://a/", 200), RangeError);
    assert.throws(() => g.Response.redirect("/relative"), TypeError);
    const e = g.Response.error();
    assert.equal(e.type, "error");
    assert.equal(e.status, 0);
  });

  test("body stream, bodyUsed, clone, arrayBuffer, blob, bytes", async () => {
    const r = new g.Response("abc", { headers: { "content-type": "text/x" } });
    const c = r.clone();
    const reader = r.body.getReader();
    const { value } = await reader.read();
    assert.deepEqual([...value], [97, 98, 99]);
    assert.equal(r.bodyUsed, true);
    await assert.rejects(r.text(), TypeError);
    assert.throws(() => r.clone(), TypeError);
    const blob = await c.clone().blob();
    assert.equal(blob.type, "text/x");
    assert.equal(await blob.text(), "abc");
    const buffer = await c.clone().arrayBuffer();
    assert.ok(buffer instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(buffer)], [97, 98, 99]);
    assert.deepEqual([...(await c.bytes())], [97, 98, 99]);

    const streamed = new g.Response(g.ReadableStream.from([new Uint8Array([1]), new Uint8Array([2])]));
    const copy = streamed.clone();
    assert.deepEqual([...new Uint8Array(await streamed.arrayBuffer())], [1, 2]);
    assert.deepEqual([...new Uint8Array(await copy.arrayBuffer())], [1, 2]);
  });

  test("json() reports bad JSON as SyntaxError; text() strips a BOM", async () => {
    await assert.rejects(new g.Response("{").json(), SyntaxError);
    assert.equal(await new g.Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])).text(), "a");
  });
});

describe("Blob, File, FormData", () => {
  test("Blob parts, type, slice, stream", async () => {
    const b = new g.Blob(["ab", new Uint8Array([99]), new g.Blob(["d"])], { type: "Text/Plain" });
    assert.equal(b.size, 4);
    assert.equal(b.type, "text/plain");
    assert.equal(await b.text(), "abcd");
    assert.equal(await b.slice(1, -1).text(), "bc");
    assert.equal(await b.slice(-2).text(), "cd");
    assert.equal(b.slice(0, 2, "a/b").type, "a/b");
    const chunks = [];
    for await (const chunk of b.stream()) chunks.push(...chunk);
    assert.deepEqual(chunks, [97, 98, 99, 100]);
    assert.equal(new g.Blob(["✓"]).size, 3);
    assert.equal(await new g.Blob(["a\r\nb\rc"], { endings: "native" }).text(), "a\nb\nc");
    assert.equal(new g.Blob([], { type: "ü" }).type, "");
    assert.throws(() => new g.Blob("str"), TypeError);
  });

  test("File", () => {
    const f = new g.File(["x"], "name.txt", { type: "text/plain", lastModified: 5 });
    assert.equal(f.name, "name.txt");
    assert.equal(f.lastModified, 5);
    assert.ok(f instanceof g.Blob);
    assert.throws(() => new g.File(["x"]), TypeError);
  });

  test("FormData methods", () => {
    const fd = new g.FormData();
    fd.append("a", "1");
    fd.append("a", "2");
    fd.append("b", new g.Blob(["x"]));
    assert.equal(fd.get("a"), "1");
    assert.deepEqual(fd.getAll("a"), ["1", "2"]);
    assert.equal(fd.get("b").name, "blob");
    assert.ok(fd.get("b") instanceof g.File);
    fd.set("a", "3");
    assert.deepEqual([...fd.keys()], ["a", "b"]);
    assert.equal(fd.has("b"), true);
    fd.delete("b");
    assert.deepEqual([...fd.entries()], [["a", "3"]]);
    assert.throws(() => fd.append("c", "str", "name"), TypeError);
    assert.throws(() => new g.FormData({}), TypeError);
  });
});

describe("C++ glue hooks", () => {
  test("makeRequest builds a request from primitives", async () => {
    const req = makeRequest("POST", "http://localhost:1999/parties/main/room?x=1", [
      ["Host", "localhost"],
      ["X-Multi", "1"],
      ["x-multi", "2"],
    ], new TextEncoder().encode("payload"));
    assert.ok(req instanceof g.Request);
    assert.equal(req.method, "POST");
    assert.equal(req.url, "http://localhost:1999/parties/main/room?x=1");
    assert.equal(req.headers.get("x-multi"), "1, 2");
    assert.equal(await req.text(), "payload");
    const get = makeRequest("GET", "http://h/", [], null);
    assert.equal(get.body, null);
    const streamed = makeRequest("PUT", "http://h/", [], g.ReadableStream.from([new Uint8Array([1])]));
    assert.deepEqual([...new Uint8Array(await streamed.arrayBuffer())], [1]);
  });

  test("responseParts and responsePartsSync", async () => {
    const res = new g.Response("hello", { status: 201, headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] });
    const parts = await responseParts(res);
    assert.equal(parts.status, 201);
    // Flat, [name, value, name, value, ...]: what the native side reads.
    assert.deepEqual(parts.headers, ["set-cookie", "a=1", "set-cookie", "b=2", "content-type", "text/plain;charset=UTF-8"]);
    assert.equal(Buffer.from(parts.body).toString(), "hello");
    assert.equal(res.bodyUsed, true);
    await assert.rejects(responseParts(res), TypeError);
    await assert.rejects(responseParts({}), TypeError);

    const sync = responsePartsSync(new g.Response(new Uint8Array([1, 2])));
    assert.deepEqual([...sync.body], [1, 2]);
    assert.equal(responsePartsSync(new g.Response(null, { status: 204 })).body, null);
    const streamed = new g.Response(g.ReadableStream.from([new Uint8Array([7])]));
    assert.equal(responsePartsSync(streamed), null);
    assert.deepEqual([...(await responseParts(streamed)).body], [7]);
  });

  test("makeResponse builds a fetch() response", async () => {
    const res = makeResponse(404, "Not Found", [["content-type", "text/plain"]], new TextEncoder().encode("nope"), {
      url: "http://h/x",
      redirected: true,
      type: "basic",
      immutableHeaders: true,
    });
    assert.deepEqual([res.status, res.statusText, res.ok, res.url, res.redirected, res.type], [404, "Not Found", false, "http://h/x", true, "basic"]);
    assert.throws(() => res.headers.set("a", "b"), TypeError);
    assert.equal(await res.clone().text(), "nope");
    assert.equal(makeResponse(204, "", [], null).body, null);
  });

  test("bodyToBytes", () => {
    const { bytes, contentType } = bodyToBytes("hi");
    assert.deepEqual([...bytes], [104, 105]);
    assert.equal(contentType, "text/plain;charset=UTF-8");
    assert.deepEqual(bodyToBytes(null), { bytes: null, contentType: null, stream: null });
    const stream = g.ReadableStream.from([]);
    assert.equal(bodyToBytes(stream).stream, stream);
  });
});
