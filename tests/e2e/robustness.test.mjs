// Bad input never takes partyd down: a handler that loops forever is stopped (with
// --handler-timeout) and its room starts afresh; malformed HTTP gets 400; an oversized WebSocket
// message gets close 1009; a broken partykit.json stops start-up with a message naming the line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { IS_EXTERNAL, IS_PARTYKIT, WebSocket, connect, http, startServer, tmpDir } from "../harness.mjs";

const partydOnly = (IS_PARTYKIT || IS_EXTERNAL) && "partyd's own limits and flags";

let server;
before(async () => {
  if (partydOnly) return;
  server = await startServer("robust", { args: ["--handler-timeout", "300"] });
});
after(async () => {
  await server?.stop();
});

function rawRequest(port, bytes) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.end(bytes));
    let out = "";
    sock.on("data", (d) => (out += d.toString()));
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
    setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, 3000);
  });
}

describe("robustness", { timeout: 60_000, skip: partydOnly }, () => {
  test("an onRequest that loops forever gets 500 and the room starts afresh", async () => {
    const looped = await http(server.host, "/parties/main/r1?loop=1");
    assert.equal(looped.status, 500);
    assert.match(looped.text, /ran longer than 300 ms/);
    const again = await http(server.host, "/parties/main/r1");
    assert.equal(again.status, 200);
    assert.match(again.text, /^ok r1 starts=\d+$/);
  });

  test("an onMessage that loops forever closes its sockets with 1011; the server goes on", async () => {
    const c = await connect(server.host, { room: "r2", id: "a" });
    c.send("loop");
    const closed = await c.closedWithin(5000);
    assert.equal(closed.code, 1011);
    const other = await http(server.host, "/parties/main/r3");
    assert.equal(other.status, 200);
    const d = await connect(server.host, { room: "r2", id: "b" });
    d.send("hi");
    assert.equal(await d.nextMessage(), "echo:hi");
    await d.closeAndWait();
  });

  test("an unhandled rejection is logged and the socket stays open", async () => {
    const c = await connect(server.host, { room: "r4", id: "a" });
    c.send("reject");
    c.send("after");
    assert.equal(await c.nextMessage(), "echo:after");
    await c.closeAndWait();
  });

  test("malformed HTTP gets 400, an oversized header 431", async () => {
    const bad = await rawRequest(server.port, "GET / HTTP/1.1\r\nHost x\r\n\r\n");
    assert.match(bad, /^HTTP\/1\.1 400/);
    const big = await rawRequest(server.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431/);
    const ok = await http(server.host, "/parties/main/r5");
    assert.equal(ok.status, 200);
  });

  test("a WebSocket message over the limit is closed with 1009", async () => {
    const ws = new WebSocket(`ws://${server.host}/parties/main/r6`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(Buffer.alloc(17 * 1024 * 1024));
    assert.equal(await closed, 1009);
  });

  test("a broken partykit.json stops start-up with the file and line", () => {
    const dir = tmpDir("partyd-broken-");
    fs.writeFileSync(path.join(dir, "partykit.json"), '{\n  "name": "x",\n  "main": "a.ts"\n  "vars": {}\n}\n');
    fs.writeFileSync(path.join(dir, "a.ts"), "export default class {}\n");
    const r = spawnSync(process.env.PARTYD ?? path.resolve("../build/partyd"), ["dev", "--no-persist", dir], {
      encoding: "utf8",
      timeout: 20_000,
    });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /partykit\.json:4:3/);
  });

  test("a build error stops start-up with the file and line", () => {
    const dir = tmpDir("partyd-broken-");
    fs.writeFileSync(path.join(dir, "partykit.json"), '{ "name": "x", "main": "a.ts" }\n');
    fs.writeFileSync(path.join(dir, "a.ts"), "export default class {\n  oops(\n}\n");
    const r = spawnSync(process.env.PARTYD ?? path.resolve("../build/partyd"), ["dev", "--no-persist", dir], {
      encoding: "utf8",
      timeout: 20_000,
    });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /a\.ts:3:\d+/);
  });
});
