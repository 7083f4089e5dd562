// Compat corpus: `process` in party code (issue 13, item 1). partykit dev injects node:process
// into every bundle (partykit's inject-process.js) and fills process.env from the project's .env
// (PARTYKIT_PROCESS_ENV), so a module that reads process.env.NODE_ENV when it loads, as React's
// entry point does, works in a party.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { http, projectDir, startServer } from "../../harness.mjs";

let server;
let seen;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
  const r = await http(server.host, "/parties/main/p1");
  assert.equal(r.status, 200, r.text);
  seen = r.json();
});
after(async () => {
  await server?.stop();
});

describe("process", { timeout: 30_000 }, () => {
  test("a CommonJS module that branches on process.env.NODE_ENV at load time loads", () => {
    assert.deepEqual(seen.reactLike, { build: "development" });
  });

  test("process is defined in party code and is node:process", () => {
    assert.equal(seen.typeofProcess, "object");
    assert.equal(seen.sameAsImport, true);
    assert.equal(seen.typeofNextTick, "function");
  });

  test(".env values are in process.env at module load, vars from partykit.json are not", () => {
    assert.deepEqual(seen.atLoad, { dotenv: "dotenv-value", dashed: "dash-value", vars: null, nodeEnv: "development" });
    assert.equal(seen.dotenvNow, "dotenv-value");
  });

  test("room.env has both .env and vars", () => {
    assert.deepEqual(seen.roomEnv, { dotenv: "dotenv-value", vars: "vars-value" });
  });
});
