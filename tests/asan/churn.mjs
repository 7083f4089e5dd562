// Connection churn for `make asan-test`: CONNECTIONS WebSockets (default 10,000) connect to a
// few rooms, each sends messages and goes away with messages still in flight, half with a clean
// close and half by dropping the TCP connection, CONCURRENCY at a time. Then the server must
// still answer, and stop cleanly (exit status 0: under ASan, no leak or error at exit).
import assert from "node:assert/strict";
import { WebSocket, http, startServer } from "../harness.mjs";

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const ROOMS = 8;

const server = await startServer("limits", { args: ["--threads", "2"] });
let done = 0;
let opened = 0;
let failed = 0;

function one(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${server.host}/parties/main/churn${i % ROOMS}?_pk=c${i}`);
    const timer = setTimeout(() => {
      failed++;
      ws.terminate();
      resolve();
    }, 20_000);
    ws.on("open", () => {
      opened++;
      for (let m = 0; m < 3; m++) ws.send(`m${m}`);
      if (i % 4 === 0) ws.send("put:k" + i); // a storage write in flight too
      if (i % 2 === 0) ws.close(1000, "bye");
      else ws.terminate();
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const t0 = Date.now();
let next = 0;
async function worker() {
  while (next < CONNECTIONS) {
    await one(next++);
    done++;
  }
}
try {
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  console.log(`churn: ${done} connections (${opened} opened, ${failed} timed out) in ${Date.now() - t0} ms`);
  assert.equal(failed, 0, "some connections never opened or closed");
  assert.ok(opened >= CONNECTIONS * 0.99, `only ${opened} of ${CONNECTIONS} opened`);
  for (let r = 0; r < ROOMS; r++) {
    const res = await http(server.host, `/parties/main/churn${r}`);
    assert.equal(res.status, 200);
  }
} finally {
  await server.stop();
}
const exit = await server.exited;
console.log(`churn: partyd exited with ${JSON.stringify(exit)}`);
assert.deepEqual(exit, { code: 0, signal: null }, "partyd did not exit cleanly");
