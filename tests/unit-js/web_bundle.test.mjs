// The bundled web layer in a bare V8 context (no Node globals), as partyd runs it: esbuild makes
// the IIFE, a vm context stands in for a room's context, and a fake native object backs it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import vm from "node:vm";
import { makeFakeNative } from "./web_harness.mjs";

const entry = fileURLToPath(new URL("../../src/api/js/web/index.js", import.meta.url));

function bundle() {
  try {
    return execFileSync(
      "esbuild",
      [entry, "--bundle", "--format=iife", "--target=es2022", "--global-name=partydWeb", "--log-level=warning"],
      { encoding: "utf8" },
    );
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

test("the bundle installs every global into a bare context", { timeout: 30_000 }, async (t) => {
  const code = bundle();
  if (code === null) {
    t.skip("esbuild is not installed");
    return;
  }
  const context = vm.createContext({});
  vm.runInContext(code, context);
  const native = makeFakeNative(vm.runInContext("({ Uint8Array })", context));
  context.native = native;
  vm.runInContext("partydWeb.installWebApis(globalThis, native)", context);
  const names = vm.runInContext("Object.getOwnPropertyNames(globalThis)", context);
  for (const name of [
    "Headers", "Request", "Response", "URL", "URLSearchParams", "TextEncoder", "TextDecoder",
    "atob", "btoa", "DOMException", "structuredClone", "console", "setTimeout", "setInterval",
    "clearTimeout", "clearInterval", "queueMicrotask", "Event", "EventTarget", "CustomEvent",
    "MessageEvent", "CloseEvent", "ErrorEvent", "AbortController", "AbortSignal", "crypto",
    "performance", "Blob", "File", "FormData", "ReadableStream", "WritableStream",
    "TransformStream", "TextEncoderStream", "TextDecoderStream", "navigator",
  ]) {
    assert.ok(names.includes(name), name);
  }
  const result = await vm.runInContext(`(async () => {
    const url = new URL("https://user:pw@example.com:8443/a/b/../c?x=1&y=two#frag");
    url.searchParams.append("a", "b c");
    const req = new Request("http://example.com/p?q=1", { method: "POST", body: JSON.stringify({ k: "v" }) });
    const res = Response.json({ a: [1, 2] });
    const enc = new TextEncoder().encode("héllo");
    const stream = new ReadableStream({ start(c) { c.enqueue(enc); c.close(); } });
    const piped = await new Response(stream.pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextEncoderStream())).text();
    console.log("logged", { url: url.href });
    return {
      href: url.href,
      body: await req.json(),
      json: await res.json(),
      piped,
      b64: atob(btoa("xyz")),
      clone: structuredClone(new Map([[1, 2]])).get(1),
      uuid: crypto.randomUUID().length,
      abortName: AbortSignal.abort().reason.name,
      instance: new Headers() instanceof Headers,
      encodedInRealm: new TextEncoder().encode("x") instanceof Uint8Array,
    };
  })()`, context);
  assert.deepEqual(JSON.parse(JSON.stringify(result)), {
    href: "https://user:pw@example.com:8443/a/c?x=1&y=two&a=b+c#frag",
    body: { k: "v" },
    json: { a: [1, 2] },
    piped: "héllo",
    b64: "xyz",
    clone: 2,
    uuid: 36,
    abortName: "AbortError",
    instance: true,
    encodedInRealm: true,
  });
  assert.deepEqual(native.logs, [[1, "logged { url: 'https://user:pw@example.com:8443/a/c?x=1&y=two&a=b+c#frag' }"]]);
});
