// Web platform APIs that party code relies on (fetch types, URL, encoding, structuredClone,
// crypto, timers, microtasks, console, streams). The fixture runs each check in the server and
// answers its findings as JSON.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { http, startServer } from "./harness.mjs";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer("webapi");
});
after(async () => {
  await server?.stop();
});

async function check(name, init) {
  const r = await http(server.host, `/parties/main/web/${name}`, init);
  assert.equal(r.status, 200, r.text);
  const body = r.json();
  assert.equal(body.error, undefined, body.error);
  return body.result;
}

describe("web APIs in party code", { timeout: 30_000 }, () => {
  test("Request, Response and Headers", async () => {
    const r = await check("fetchTypes", { method: "POST", body: "payload", headers: { "x-probe": "p" } });
    assert.deepEqual(r, {
      headerA: "1, 2",
      headerHas: true,
      headerKeys: ["content-type", "x-a", "x-b"],
      method: "POST",
      url: "http://example.com/p?q=1",
      body: { k: "v" },
      cloneBody: '{"k":"v"}',
      status: 201,
      statusText: "Made",
      ok: true,
      resHeader: "r",
      resText: "body text",
      jsonType: "application/json",
      jsonBody: { a: 1 },
      bytesText: "hi",
      incomingMethod: "POST",
      incomingHeader: "p",
      incomingBody: "payload",
    });
  });

  test("URL and URLSearchParams", async () => {
    assert.deepEqual(await check("url"), {
      href: "https://user:pw@example.com:8443/a/c?x=1&y=two#frag",
      host: "example.com:8443",
      hostname: "example.com",
      port: "8443",
      pathname: "/a/c",
      search: "?x=1&y=two",
      hash: "#frag",
      x: "1",
      all: ["1", "3"],
      serialized: "a=1&a=3&b=2&c=x+y",
      relative: "http://h/a/d?z",
    });
  });

  test("TextEncoder, TextDecoder, atob and btoa", async () => {
    assert.deepEqual(await check("text"), {
      encoded: [...Buffer.from("héllo ✓ 😀", "utf8")],
      decoded: "héllo ✓ 😀",
      utf8Label: "utf-8",
      btoa: "aGVsbG8gd29ybGQ=",
      atob: "hello world",
      btoaBinary: "AP+A",
    });
  });

  test("structuredClone of Date, Map and Set", async () => {
    assert.deepEqual(await check("clone"), {
      distinct: true,
      dateIsDate: true,
      date: "2020-02-03T04:05:06.007Z",
      mapIsMap: true,
      mapEntry: { deep: [1, 2] },
      setIsSet: true,
      setValues: [1, 2],
    });
  });

  test("crypto.randomUUID, getRandomValues and subtle.digest", async () => {
    const r = await check("crypto");
    assert.match(r.a, UUID_RE);
    assert.match(r.b, UUID_RE);
    assert.notEqual(r.a, r.b);
    assert.equal(r.length, 16);
    assert.equal(r.nonZero, true);
    assert.equal(r.hasSubtle, true);
    assert.equal(await check("digest"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("setTimeout, setInterval and their clear functions", async () => {
    const { order, elapsedAtLeast45 } = await check("timers");
    assert.equal(elapsedAtLeast45, true);
    assert.ok(!order.includes("cancelled-timeout"), "clearTimeout cancelled the timer");
    assert.equal(order[0], "timeout-0");
    assert.deepEqual(
      order.filter((x) => x.startsWith("interval")),
      ["interval-1", "interval-2", "interval-3"],
      "clearInterval stopped the interval after 3 ticks",
    );
    assert.ok(order.indexOf("interval-1") < order.indexOf("timeout-20"), "timers fire in deadline order");
    assert.equal(order.length, 5);
  });

  test("queueMicrotask and promise jobs run in order, before timers", async () => {
    assert.deepEqual(await check("microtasks"), ["sync", "microtask-1", "promise", "microtask-2", "timeout"]);
  });

  test("console methods do not throw", async () => {
    assert.equal(await check("console"), "ok");
  });

  test("common globals exist", async () => {
    const g = await check("globals");
    for (const name of ["fetch", "WebSocket", "AbortController", "ReadableStream", "Blob", "FormData"]) {
      assert.equal(g[name], "function", name);
    }
    assert.equal(g.globalThis, "object");
  });

  test("ReadableStream bodies and Blob", async () => {
    assert.deepEqual(await check("streams"), { streamed: "chunk1,chunk2", blobSize: 4, blobText: "abcd" });
  });
});
