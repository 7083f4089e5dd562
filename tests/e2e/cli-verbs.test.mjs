// partyd's own deploy verbs (`partyd deploy|list|info|env|rollback|delete|tail`) against a
// `partyd serve`, without the partykit CLI: the deploy cycle with a rollback that survives a
// restart, tail filters, an alarm in the tail, every bad input of the verbs, and serve's room
// limit flags (shared with dev).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, tmpDir, waitUntil, WebSocket, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const TOKEN = "e2e-verbs-token-0123456789";
const DOMAIN = "verbs.local";
const TEAM = "crew";

const data = tmpDir("partyd-verbs-data-");
const home = tmpDir("partyd-verbs-home-");
const tokenFile = path.join(home, "token");
fs.writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
let port;
let adminPort;

function writeProject(name, version) {
  const dir = tmpDir(`partyd-verbs-${name}-`);
  fs.mkdirSync(path.join(dir, "src"));
  fs.mkdirSync(path.join(dir, "public"));
  fs.writeFileSync(path.join(dir, "partykit.json"),
    JSON.stringify({ name, main: "src/server.js", serve: { path: "public" } }));
  setVersion(dir, version);
  return dir;
}

function setVersion(dir, version) {
  fs.writeFileSync(path.join(dir, "src", "server.js"), `
export default class Server {
  constructor(room) { this.room = room; }
  async onRequest(req) {
    const url = new URL(req.url);
    if (url.searchParams.has("alarm")) {
      await this.room.storage.put("fail", url.searchParams.get("alarm") === "fail");
      await this.room.storage.setAlarm(Date.now() + 100);
      return new Response("armed");
    }
    console.log("request ${version} " + req.method);
    return new Response("${version} K=" + (this.room.env.K ?? "-"));
  }
  async onAlarm() {
    console.log("alarm ran ${version}");
    if (await this.room.storage.get("fail")) throw new Error("alarm broke");
  }
}
`);
  fs.writeFileSync(path.join(dir, "public", "index.html"), `<h1>${version}</h1>\n`);
}

async function startServe(extra = []) {
  port ??= await freePort();
  adminPort ??= await freePort();
  const proc = spawn(PARTYD,
    ["serve", "--port", String(port), "--address", "127.0.0.1", "--threads", "2", "--data", data,
     "--admin", `127.0.0.1:${adminPort}`, "--admin-token-file", tokenFile, "--domain", DOMAIN, ...extra],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const s = { proc, get out() { return out; } };
  await waitUntil(() => out.includes("Ready on") || proc.exitCode !== null,
    { timeout: 15_000, what: `partyd serve ready:\n${out}` });
  assert.equal(proc.exitCode, null, out);
  return s;
}

async function stopServe(s) {
  if (!s || s.proc.exitCode !== null) return;
  const exited = new Promise((r) => s.proc.once("exit", r));
  s.proc.kill("SIGTERM");
  await exited;
}

// partyd VERB …, with the server and token from the environment as a user would set them.
function partyd(args, { cwd, input = "", env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(PARTYD, args, {
      cwd,
      env: { ...process.env, PARTYD_SERVER: `http://127.0.0.1:${adminPort}`, PARTYD_TOKEN_FILE: tokenFile,
             PARTYD_TEAM: TEAM, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(input);
    child.on("close", (code) => resolve({ code, stdout, stderr, out: stdout + stderr }));
  });
}

// A tail running in the background: its parsed events, and a stop that ends it (SIGINT).
function startTail(args) {
  const child = spawn(PARTYD, ["tail", "--format", "json", ...args], {
    env: { ...process.env, PARTYD_SERVER: `http://127.0.0.1:${adminPort}`, PARTYD_TOKEN_FILE: tokenFile,
           PARTYD_TEAM: TEAM },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "", err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const closed = new Promise((r) => child.on("close", (code) => r(code)));
  return {
    get events() { return out.split("\n").filter(Boolean).map((l) => JSON.parse(l)); },
    get err() { return err; },
    async stop() { child.kill("SIGINT"); return await closed; },
    closed,
  };
}

async function get(name, urlPath, method = "GET") {
  const { default: http } = await import("node:http");
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method,
                               headers: { host: `${name}.${TEAM}.${DOMAIN}` } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

// The tail is attached once the server counts it: a request then reaches it. Sends requests
// until one shows up, so no event is lost to the attach race.
async function untilTailSees(tail, name) {
  await waitUntil(async () => {
    await get(name, "/parties/main/probe", "PUT");
    return tail.events.some((e) => e.event?.request?.url?.endsWith("/parties/main/probe"));
  }, { timeout: 10_000, interval: 200, what: `the tail attached:\n${tail.err}` });
}

describe("partyd deploy verbs against partyd serve", () => {
  let server;
  let dir;
  before(async () => {
    server = await startServe();
    dir = writeProject("gamma", "v1");
  });
  after(async () => { await stopServe(server); });

  test("deploy, list, info, env add, redeploy, rollback (kept across a restart), delete", async () => {
    let r = await partyd(["deploy", dir]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, new RegExp(`Deployed ${TEAM}/gamma to https://gamma\\.${TEAM}\\.${DOMAIN}`));
    assert.equal((await get("gamma", "/parties/main/a")).body, "v1 K=-");
    assert.equal((await get("gamma", "/")).body, "<h1>v1</h1>\n");

    r = await partyd(["list"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /^gamma\s+-\s+1\s/m);
    r = await partyd(["list", "--format", "json"]);
    assert.equal(JSON.parse(r.stdout)[0].name, "gamma");
    r = await partyd(["info", "--name", "gamma"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /deploys:\s+1/);

    // Nothing to roll back to yet: 409, said plainly.
    r = await partyd(["rollback", "--name", "gamma"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no earlier version of crew\/gamma to roll back to.*409/);

    r = await partyd(["env", "add", "K", "--name", "gamma"], { input: "s3cret\n" });
    assert.equal(r.code, 0, r.out);
    r = await partyd(["env", "list", "--name", "gamma"]);
    assert.equal(r.stdout.trim(), "K");
    r = await partyd(["env", "pull", "--name", "gamma"]);
    assert.deepEqual(JSON.parse(r.stdout), { K: "s3cret" });

    setVersion(dir, "v2");
    r = await partyd(["deploy", dir]);
    assert.equal(r.code, 0, r.out);
    assert.equal((await get("gamma", "/parties/main/a")).body, "v2 K=s3cret");
    assert.equal((await get("gamma", "/")).body, "<h1>v2</h1>\n");

    r = await partyd(["rollback", "--name", "gamma"]);
    assert.equal(r.code, 0, r.out);
    assert.match((await get("gamma", "/parties/main/a")).body, /^v1 /);
    assert.equal((await get("gamma", "/")).body, "<h1>v1</h1>\n");

    // A restart keeps the rolled-back version; a second rollback returns to v2.
    await stopServe(server);
    server = await startServe();
    assert.match((await get("gamma", "/parties/main/a")).body, /^v1 /);
    r = await partyd(["rollback", "--name", "gamma"]);
    assert.equal(r.code, 0, r.out);
    assert.equal((await get("gamma", "/parties/main/a")).body, "v2 K=s3cret");

    r = await partyd(["env", "remove", "K", "--name", "gamma"]);
    assert.equal(r.code, 0, r.out);
    r = await partyd(["delete", "--name", "gamma"]);
    assert.equal(r.code, 0, r.out);
    assert.equal((await get("gamma", "/parties/main/a")).status, 404);
    r = await partyd(["list", "--format", "json"]);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  test("tail: a filter lets through only matching events; alarms appear with their logs", async () => {
    const d = writeProject("delta", "v1");
    assert.equal((await partyd(["deploy", d])).code, 0);

    const onlyPost = startTail(["--name", "delta", "--method", "POST"]);
    const errors = startTail(["--name", "delta", "--status", "error"]);
    const all = startTail(["--name", "delta"]);
    try {
      await untilTailSees(all, "delta");
      // The method filter let no PUT probe through; wait for it to attach with a POST.
      await waitUntil(async () => {
        await get("delta", "/parties/main/posted", "POST");
        return onlyPost.events.length > 0;
      }, { timeout: 10_000, interval: 200, what: `the POST tail:\n${onlyPost.err}` });
      await get("delta", "/parties/main/plain");
      await get("delta", "/parties/main/alarmed?alarm=ok");
      await get("delta", "/parties/main/broken?alarm=fail");
      await waitUntil(() => all.events.filter((e) => e.event?.scheduledTime).length >= 2,
        { timeout: 10_000, what: `two alarm events:\n${JSON.stringify(all.events, null, 1)}` });
      await waitUntil(() => errors.events.length >= 1, { timeout: 5_000, what: "the error tail" });

      assert.ok(onlyPost.events.every((e) => e.event.request?.method === "POST"),
        JSON.stringify(onlyPost.events));
      const alarms = all.events.filter((e) => e.event?.scheduledTime);
      const good = alarms.find((e) => e.event.room === "main/alarmed");
      assert.equal(good.outcome, "ok");
      assert.deepEqual(good.logs.map((l) => l.message[0]), ["alarm ran v1"]);
      const bad = alarms.find((e) => e.event.room === "main/broken");
      assert.equal(bad.outcome, "exception");
      assert.equal(bad.exceptions[0].message, "alarm broke");
      assert.ok(errors.events.every((e) => e.outcome === "exception"), JSON.stringify(errors.events));
      assert.ok(errors.events.some((e) => e.event.room === "main/broken"));
      // A request's event carries its answer's status; the outcome is the invocation's ("ok").
      const plain = all.events.find((e) => e.event.request?.url?.endsWith("/parties/main/plain"));
      assert.ok(plain, JSON.stringify(all.events));
      assert.equal(plain.outcome, "ok");
      assert.equal(plain.event.response?.status, 200);
      const posted = onlyPost.events.find((e) => e.event.request?.url?.endsWith("/parties/main/posted"));
      assert.equal(posted?.event.response?.status, 200, JSON.stringify(onlyPost.events));
    } finally {
      for (const t of [onlyPost, errors, all]) assert.equal(await t.stop(), 0, t.err);
    }
    // A search filter, and --max-events ending the tail by itself.
    const search = startTail(["--name", "delta", "--search", "needle", "--max-events", "1"]);
    await new Promise((r) => setTimeout(r, 500));
    await waitUntil(async () => {
      await get("delta", "/parties/main/haystack");
      await get("delta", "/parties/main/needle");
      return search.events.length > 0;
    }, { timeout: 10_000, interval: 200, what: `the search tail:\n${search.err}` });
    assert.equal(await search.closed, 0);
    assert.equal(search.events.length, 1);
    assert.match(search.events[0].event.request.url, /needle/);
    // A tail body or filter the server does not know is refused by the API itself.
    for (const body of ["[1,2]", '{"filters":[{"colour":"red"}]}', '{"filters":[{"sampling_rate":7}]}']) {
      const res = await fetch(`http://127.0.0.1:${adminPort}/parties/${TEAM}/delta/tail`, {
        method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body });
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).error, /tail/);
    }
    assert.equal((await partyd(["delete", "--name", "delta"])).code, 0);
  });

  test("bad input: each a clear message and a non-zero exit", async () => {
    const cases = [
      [["list", "--server", "http://127.0.0.1:1"], /cannot reach the partyd admin API at http:\/\/127\.0\.0\.1:1/],
      [["list", "--token", "wrong"], /refused the token \(401\)/],
      [["info", "--name", "nope"], /no project crew\/nope is deployed/],
      [["delete", "--name", "nope"], /no project crew\/nope is deployed/],
      [["rollback", "--name", "nope"], /no project crew\/nope is deployed/],
      [["deploy", tmpDir("partyd-verbs-empty-")], /has no partykit\.json/],
      [["deploy", "/nonexistent/folder"], /is not a folder/],
      [["info"], /which project\? Pass --name/],
      [["info", "--name", "Bad Name"], /is not 1 to 64 of a-z/],
      [["tail", "--name", "x", "--status", "bogus"], /--status is ok, error or canceled/],
      [["tail", "--name", "x", "--sampling-rate", "2"], /--sampling-rate needs a number between 0 and 1/],
      [["env", "frob", "--name", "x"], /unknown subcommand frob/],
      [["env", "remove", "--name", "x"], /env remove needs KEY/],
      [["list", "--bogus"], /unknown option --bogus/],
      [["list", "--server", "ftp://x"], /needs an http:\/\/ or https:\/\/ URL/],
      [["list", "--token-file", "/nonexistent/token"], /cannot read the token file/],
    ];
    for (const [args, pattern] of cases) {
      const r = await partyd(args, { cwd: home });
      assert.notEqual(r.code, 0, `${args.join(" ")} exited 0:\n${r.out}`);
      assert.match(r.stderr, pattern, `${args.join(" ")}:\n${r.out}`);
    }
  });

  test("SIGTERM: an open tail WebSocket is closed with 1001", async () => {
    const d = writeProject("omega", "v1");
    assert.equal((await partyd(["deploy", d])).code, 0);
    const res = await fetch(`http://127.0.0.1:${adminPort}/parties/${TEAM}/omega/tail`, {
      method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: "" });
    assert.equal(res.status, 200);
    const { url } = (await res.json()).result;
    const ws = new WebSocket(url, "trace-v1");
    const closed = new Promise((r) => ws.on("close", (code, reason) => r({ code, reason: String(reason) })));
    await new Promise((r, j) => { ws.on("open", r); ws.on("error", j); });
    await stopServe(server);
    const c = await closed;
    assert.equal(c.code, 1001, server.out);
    assert.match(c.reason, /going away/);
    server = await startServe();
  });
});

describe("partyd serve applies the room limit flags of dev", () => {
  test("--max-room-connections 1: a second socket to one room closes with 1013", async () => {
    const s = await startServe(["--max-room-connections", "1", "--cpu-limit", "5000", "--heap-limit", "128",
                                "--max-pending-bytes", "65536", "--max-room-storage", "100000",
                                "--max-messages-per-second", "1000"]);
    try {
      const d = writeProject("eps", "v1");
      assert.equal((await partyd(["deploy", d])).code, 0);
      const url = `ws://127.0.0.1:${port}/parties/main/one`;
      const headers = { host: `eps.${TEAM}.${DOMAIN}` };
      const a = new WebSocket(url, { headers });
      await new Promise((r, j) => { a.on("open", r); a.on("error", j); });
      const b = new WebSocket(url, { headers });
      const code = await new Promise((r) => b.on("close", (c) => r(c)));
      assert.equal(code, 1013);
      a.close();
    } finally {
      await stopServe(s);
    }
    const bad = spawn(PARTYD, ["serve", "--heap-limit", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    bad.stderr.on("data", (d) => (err += d));
    assert.equal(await new Promise((r) => bad.on("close", r)), 2);
    assert.match(err, /--heap-limit needs a number of megabytes, at least 16/);
  });
});
