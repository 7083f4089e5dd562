// `partyd dev` watches the project: a saved change is rebuilt and served without restarting the
// server, and a change that does not build leaves the previous build serving.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { FIXTURES_DIR, IS_EXTERNAL, IS_PARTYKIT, http, startServer, tmpDir, waitUntil } from "./harness.mjs";

const dir = tmpDir("partyd-watch-");
const source = (version) =>
  `export default class {\n  onRequest() {\n    return new Response("${version}");\n  }\n}\n`;

let server;
before(async () => {
  fs.writeFileSync(path.join(dir, "partykit.json"), '{ "name": "watch", "main": "server.ts" }\n');
  fs.writeFileSync(path.join(dir, "server.ts"), source("v1"));
  if (IS_PARTYKIT || IS_EXTERNAL) return;
  server = await startServer(path.relative(FIXTURES_DIR, dir));
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("watch", { timeout: 60_000, skip: (IS_PARTYKIT || IS_EXTERNAL) && "partyd's own dev loop" }, () => {
  test("a saved change is served without a restart; a broken one keeps the last build", async () => {
    assert.equal((await http(server.host, "/parties/main/w")).text, "v1");
    fs.writeFileSync(path.join(dir, "server.ts"), source("v2"));
    await waitUntil(async () => (await http(server.host, "/parties/main/w")).text === "v2", {
      timeout: 15_000,
      what: "the new build to be served",
    });
    fs.writeFileSync(path.join(dir, "server.ts"), "export default class {\n  onRequest( {\n}\n");
    await waitUntil(() => /build failed/.test(server.logs()), { timeout: 15_000, what: "a build error in the log" });
    assert.match(server.logs(), /server\.ts:\d+:\d+/);
    assert.equal((await http(server.host, "/parties/main/w")).text, "v2");
  });
});
