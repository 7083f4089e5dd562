// Compat corpus, feature 4: modules and configuration (PARTYKIT-API.md §6a). npm dependencies
// and CommonJS files are bundled; `.wasm` imports give a WebAssembly.Module that instantiates;
// JSON and text imports; Node built-ins as partykit dev's nodejs_compat has them; `define` with
// process.env.X; `.env`; `vars` reaching room.env and lobby.env with their JSON types.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { http, projectDir, startServer } from "../../harness.mjs";

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
});
after(async () => {
  await server?.stop();
});

async function run(which) {
  const r = await http(server.host, `/parties/main/mods/${which}`);
  assert.equal(r.status, 200, r.text);
  return r.json();
}

describe("modules", { timeout: 30_000 }, () => {
  test("an npm dependency (yjs) and a CommonJS file are bundled", async () => {
    assert.deepEqual(await run("npm"), { text: "hello world", copied: "hello world", cjs: "hi room from cjs" });
  });

  test("a .wasm import is a WebAssembly.Module; WebAssembly.instantiate runs it", async () => {
    assert.deepEqual(await run("wasm"), { isModule: true, isInstance: true, sum: 5, exports: ["function:add"] });
  });

  test("JSON imports (default and named) and text imports", async () => {
    assert.deepEqual(await run("imports"), {
      data: { name: "data", list: [1, 2, 3], nested: { ok: true } },
      list: [1, 2, 3],
      text: "hello from a text import\nsecond line\n",
    });
  });

  test("`define` replaces identifiers and process.env.X; .env reaches process.env; PARTYKIT_HOST is defined", async () => {
    assert.deepEqual(await run("define"), {
      flavor: "corpus",
      defined: "from-define",
      dotenv: "dotenv-value",
      host: server.host,
    });
  });
});

describe("Node built-ins (partykit dev always adds nodejs_compat)", { timeout: 30_000 }, () => {
  let node;
  before(async () => {
    node = await run("node");
  });

  test("node:buffer Buffer", () => {
    assert.equal(node.buffer, "aGk=");
  });

  test("node:events EventEmitter", () => {
    assert.deepEqual(node.events, [1]);
  });

  test("node:async_hooks AsyncLocalStorage", () => {
    assert.equal(node.asyncLocalStorage, 5);
  });

  test("node:crypto createHash", () => {
    assert.equal(node.createHash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("node:fs bundles, and using it throws an Error that names the function", () => {
    assert.match(node.fs, /^Error: .*fs\.readFileSync/);
  });
});

describe("vars and .env", { timeout: 30_000 }, () => {
  const expected = { PLAIN: "text", OBJ: { nested: [1, 2], flag: true }, NUM: 42, FROM_DOTENV: "dotenv-value" };

  test("room.env has `vars` with their JSON types, and .env", async () => {
    assert.deepEqual(await run("env"), expected);
  });

  test("lobby.env has the same", async () => {
    assert.deepEqual(await run("lobby-env"), expected);
  });
});
