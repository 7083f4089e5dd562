// Compat corpus: top-level await (issue 13, item 8). PartyKit bundles party code as an ES module
// and workerd evaluates it as one, so `await` at a module's top level works, in the main module
// and in one it imports; partyd bundles and evaluates an ES module too.
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

describe("top-level await", { timeout: 30_000 }, () => {
  test("modules that await at their top level load before the first request", async () => {
    const r = await http(server.host, "/parties/main/t1");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { loaded: ["promise", "microtask", "async function"], mainSteps: [1, 2] });
  });
});
