// Compat corpus, feature 7: the dev experience. The dev server watches the project: a saved
// change (to a module the entry imports) is rebuilt and served without restarting the server; a
// change that does not build prints the error with file:line:col and leaves the previous build
// serving; each request and WebSocket upgrade gets a log line. The test serves a copy of this
// folder in a temporary directory, since it rewrites src/message.ts.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { IS_EXTERNAL, connect, http, projectDir, startServer, tmpDir, waitUntil } from "../../harness.mjs";

const template = projectDir(import.meta.url);
const dir = tmpDir("partyd-devloop-");
const messageFile = path.join(dir, "src", "message.ts");
const writeMessage = (source) => fs.writeFileSync(messageFile, source);
const served = async () => (await http(server.host, "/parties/main/w")).text;

let server;
before(async () => {
  for (const f of ["partykit.json", "src/server.ts", "src/message.ts"]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(template, f), path.join(dir, f));
  }
  if (IS_EXTERNAL) return;
  server = await startServer(dir);
});
after(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("dev loop", { timeout: 90_000, skip: IS_EXTERNAL && "needs its own server" }, () => {
  test("one log line per request and WebSocket upgrade, with method, path and status", async () => {
    assert.equal((await http(server.host, "/parties/main/w?x=1")).text, "v1");
    const c = await connect(server.host, "/parties/main/ws-log");
    assert.equal(await c.nextMessage(), "v1");
    await c.closeAndWait();
    assert.equal((await http(server.host, "/nothing-here")).status, 404);
    await waitUntil(() => /GET \/nothing-here\S* 404/.test(server.logs()), { what: "the 404 log line" });
    const logs = server.logs();
    assert.match(logs, /GET \/parties\/main\/w\S* 200/);
    assert.match(logs, /(GET|WS) \/parties\/main\/ws-log\S* 101/);
  });

  test("a saved change is rebuilt and served without a restart; live sockets are closed", async () => {
    const c = await connect(server.host, "/parties/main/live");
    assert.equal(await c.nextMessage(), "v1");
    writeMessage('export const message = "v2";\n');
    await waitUntil(async () => (await served()) === "v2", { timeout: 20_000, what: "the new build to be served" });
    // partykit dev drops the connection (1006); partyd sends 1012 "service restart".
    await c.closedWithin(10_000);
    const again = await connect(server.host, "/parties/main/live");
    assert.equal(await again.nextMessage(), "v2");
    await again.closeAndWait();
  });

  test("a change that does not build is reported with file:line:col and the last build keeps serving", async () => {
    const before = server.logs().length;
    writeMessage('export const message = "v3;\n');
    await waitUntil(() => /ERROR/.test(server.logs().slice(before)), { timeout: 20_000, what: "a build error in the log" });
    const report = server.logs().slice(before);
    assert.match(report, /Unterminated string literal/);
    assert.match(report, /src\/message\.ts:1:\d+/);
    assert.equal(await served(), "v2");
    writeMessage('export const message = "v4";\n');
    await waitUntil(async () => (await served()) === "v4", { timeout: 20_000, what: "the fixed build to be served" });
  });
});
