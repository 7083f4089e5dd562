// partyd serve driven by the unmodified `partykit` CLI (0.0.115, from tests/package.json), as a
// team would use it with PARTYKIT_API_BASE, GITHUB_LOGIN and GITHUB_TOKEN (DEPLOY-API.md):
// deploy with assets and vars, partysocket, list, info, env add + redeploy, tail, delete; two
// projects side by side that cannot see each other; every bad input of issue 10 item 6; and a
// restart that keeps what was deployed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, tmpDir, usePartySocket, waitUntil, WebSocket, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const CLI = path.join(TESTS_DIR, "node_modules", "partykit", "dist", "bin.mjs");
const TOKEN = "e2e-admin-token-0123456789";
const DOMAIN = "test.local";

const data = tmpDir("partyd-serve-data-");
const home = tmpDir("partyd-serve-home-");
let server; // { proc, port, adminPort, out }
let adminPort;
let port;

// ---- fixtures --------------------------------------------------------------------------------

function writeProject(name, { greeting = "hello", throwAtLoad = false } = {}) {
  const dir = tmpDir(`partyd-serve-${name}-`);
  fs.mkdirSync(path.join(dir, "src"));
  fs.mkdirSync(path.join(dir, "public"));
  fs.writeFileSync(
    path.join(dir, "partykit.json"),
    JSON.stringify({
      name,
      main: "src/server.js",
      compatibilityDate: "2024-01-01",
      serve: { path: "public" },
      parties: { other: "src/other.js" },
    }),
  );
  fs.writeFileSync(
    path.join(dir, "src", "server.js"),
    `${throwAtLoad ? 'throw new Error("broken at load");\n' : ""}
export default class Server {
  constructor(room) { this.room = room; }
  onConnect(conn) {
    conn.send(JSON.stringify({ project: ${JSON.stringify(name)}, env: this.room.env }));
  }
  async onMessage(msg, sender) {
    console.log("message in ${name}: " + msg);
    if (msg.startsWith("put:")) { await this.room.storage.put("k", msg.slice(4)); sender.send("stored"); }
    else if (msg === "get") sender.send("value:" + (await this.room.storage.get("k")));
    else if (msg === "other") {
      const res = await this.room.context.parties.other.get("x").fetch("/hello");
      sender.send("other:" + (await res.text()));
    }
  }
  async onRequest(req) {
    console.log("request in ${name} to " + this.room.id);
    return Response.json({ project: ${JSON.stringify(name)}, greeting: ${JSON.stringify(greeting)},
      env: this.room.env, stored: (await this.room.storage.get("k")) ?? null });
  }
}
`,
  );
  fs.writeFileSync(
    path.join(dir, "src", "other.js"),
    `export default class Other { onRequest() { return new Response(${JSON.stringify(name + "-other")}); } }\n`,
  );
  fs.writeFileSync(path.join(dir, "public", "index.html"), `<h1>${name} assets</h1>\n`);
  return dir;
}

// ---- processes -------------------------------------------------------------------------------

async function startServe(extra = []) {
  const tokenFile = path.join(home, "token");
  fs.writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
  port ??= await freePort();
  adminPort ??= await freePort();
  const proc = spawn(
    PARTYD,
    ["serve", "--port", String(port), "--address", "127.0.0.1", "--threads", "2", "--data", data,
     "--admin", `127.0.0.1:${adminPort}`, "--admin-token-file", tokenFile, "--domain", DOMAIN, ...extra],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const s = { proc, get out() { return out; } };
  await waitUntil(() => out.includes("Ready on"), { timeout: 15_000, what: `partyd serve ready:\n${out}` });
  return s;
}

async function stopServe(s) {
  if (!s || s.proc.exitCode !== null) return;
  const exited = new Promise((r) => s.proc.once("exit", r));
  s.proc.kill("SIGTERM");
  await exited;
}

function cli(args, { cwd, input = "", team = "team" } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: {
        ...process.env,
        HOME: home,
        PARTYKIT_API_BASE: `http://127.0.0.1:${adminPort}`,
        GITHUB_LOGIN: team,
        GITHUB_TOKEN: TOKEN,
        NO_COLOR: "1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.stdin.end(input);
    child.on("close", (code) => resolve({ code, out }));
  });
}

// A request to the project that `host` names, on the public port.
async function get(host, urlPath) {
  return await new Promise((resolve, reject) => {
    import("node:http").then(({ default: http }) => {
      const req = http.request({ host: "127.0.0.1", port, path: urlPath, headers: { host } }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      });
      req.on("error", reject);
      req.end();
    });
  });
}

async function admin(method, urlPath, { body, headers = {}, token = TOKEN } = {}) {
  const res = await fetch(`http://127.0.0.1:${adminPort}${urlPath}`, {
    method,
    body,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

// partysocket to a room of the project that `host` names (a Host header, since *.test.local has
// no DNS): its WebSocket class sets the header.
async function socketTo(host, room) {
  class HostWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers: { host } });
    }
  }
  const ps = await usePartySocket({ host: `127.0.0.1:${port}`, room, WebSocket: HostWebSocket });
  await ps.opened;
  return ps;
}

const alphaHost = `alpha.team.${DOMAIN}`;
const betaHost = `beta.other-team.${DOMAIN}`;
let alphaDir;
let betaDir;

before(async () => {
  alphaDir = writeProject("alpha", { greeting: "v1" });
  betaDir = writeProject("beta");
  server = await startServe();
});
after(async () => {
  await stopServe(server);
  for (const dir of [data, home, alphaDir, betaDir]) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("partyd serve with the partykit CLI", { timeout: 240_000 }, () => {
  test("deploy with assets and vars; the project answers by Host, with both parties", async () => {
    const r = await cli(["deploy", "--var", "GREETING=hi"], { cwd: alphaDir });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Uploaded index\.html/);
    assert.match(r.out, /Deployed .*alpha\.team/);
    const page = await get(alphaHost, "/");
    assert.equal(page.status, 200);
    assert.match(page.body, /alpha assets/);
    const room = JSON.parse((await get(alphaHost, "/parties/main/r1")).body);
    assert.equal(room.greeting, "v1");
    assert.equal(room.env.GREETING, "hi");
    assert.equal((await get(alphaHost, "/parties/other/x")).body, "alpha-other");
    // The only deployed project also answers any other Host.
    assert.equal((await get("127.0.0.1", "/parties/other/x")).body, "alpha-other");
  });

  test("partysocket connects; storage and context.parties work", async () => {
    const ps = await socketTo(alphaHost, "shared");
    const hello = await ps.nextJson();
    assert.equal(hello.project, "alpha");
    ps.socket.send("put:alpha-secret");
    assert.equal(await ps.nextMessage(), "stored");
    ps.socket.send("other");
    assert.equal(await ps.nextMessage(), "other:alpha-other");
    ps.close();
  });

  test("list and info", async () => {
    const list = await cli(["list", "-f", "json"], { cwd: alphaDir });
    assert.equal(list.code, 0, list.out);
    const rows = JSON.parse(list.out.slice(list.out.indexOf("[")));
    assert.deepEqual(rows.map((p) => p.name), ["alpha"]);
    const info = await cli(["info"], { cwd: alphaDir });
    assert.equal(info.code, 0, info.out);
    assert.match(info.out, /name: 'alpha'/);
    assert.match(info.out, /parties: 'main, other'/);
  });

  test("env add persists (0600) and takes effect on the next deploy", async () => {
    const add = await cli(["env", "add", "SECRET"], { cwd: alphaDir, input: "s3cret" });
    assert.equal(add.code, 0, add.out);
    const envFile = path.join(data, "projects", "team", "alpha", "env.json");
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600);
    assert.equal(JSON.parse((await get(alphaHost, "/parties/main/r1")).body).env.SECRET, undefined);
    const keys = await cli(["env", "list"], { cwd: alphaDir });
    assert.match(keys.out, /SECRET/);
    fs.writeFileSync(
      path.join(alphaDir, "src", "server.js"),
      fs.readFileSync(path.join(alphaDir, "src", "server.js"), "utf8").replace('greeting: "v1"', 'greeting: "v2"'),
    );
    const r = await cli(["deploy", "--var", "GREETING=hi"], { cwd: alphaDir });
    assert.equal(r.code, 0, r.out);
    const room = JSON.parse((await get(alphaHost, "/parties/main/r1")).body);
    assert.equal(room.greeting, "v2");
    assert.equal(room.env.SECRET, "s3cret");
    assert.equal(room.env.GREETING, "hi");
    assert.equal(room.stored, null);
    const shared = JSON.parse((await get(alphaHost, "/parties/main/shared")).body);
    assert.equal(shared.stored, "alpha-secret", "storage survives a deploy");
  });

  test("tail sees a request and a console.log", async () => {
    const child = spawn(process.execPath, [CLI, "tail"], {
      cwd: alphaDir,
      env: { ...process.env, HOME: home, PARTYKIT_API_BASE: `http://127.0.0.1:${adminPort}`,
             GITHUB_LOGIN: "team", GITHUB_TOKEN: TOKEN, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    try {
      await waitUntil(() => out.includes("waiting for logs"), { timeout: 15_000, what: `tail connected:\n${out}` });
      await get(alphaHost, "/parties/main/tailed");
      await waitUntil(() => out.includes("GET https://") && out.includes("request in alpha to tailed"),
        { timeout: 10_000, what: `tail output:\n${out}` });
      assert.match(out, /GET https:\/\/alpha\.team\.test\.local[^ ]*\/parties\/main\/tailed - Ok/);
      assert.match(out, /\(log\) request in alpha to tailed/);
    } finally {
      child.kill("SIGINT");
    }
  });

  test("two projects side by side cannot see each other's storage, env, rooms or logs", async () => {
    const r = await cli(["deploy"], { cwd: betaDir, team: "other-team" });
    assert.equal(r.code, 0, r.out);
    // Now two are deployed: a Host that names neither reaches none.
    assert.equal((await get("127.0.0.1", "/parties/main/x")).status, 404);
    assert.equal((await get(betaHost, "/")).body.trim(), "<h1>beta assets</h1>");
    const beta = JSON.parse((await get(betaHost, "/parties/main/shared")).body);
    assert.equal(beta.project, "beta");
    assert.equal(beta.stored, null, "beta's room 'shared' does not see alpha's storage");
    assert.equal(beta.env.SECRET, undefined, "nor alpha's env");
    const ps = await socketTo(betaHost, "shared");
    assert.equal((await ps.nextJson()).project, "beta");
    ps.socket.send("other");
    assert.equal(await ps.nextMessage(), "other:beta-other", "context.parties reaches its own");
    ps.close();
    // beta's tail does not see alpha's logs; its team does not list alpha.
    const rows = await admin("GET", "/parties/other-team");
    assert.deepEqual(JSON.parse(rows.text).map((p) => p.name), ["beta"]);
    const t = JSON.parse((await admin("POST", "/parties/other-team/beta/tail", { body: "{}" })).text).result;
    const ws = new WebSocket(t.url, "trace-v1");
    const events = [];
    ws.on("message", (m) => events.push(JSON.parse(String(m))));
    await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
    await get(alphaHost, "/parties/main/secret-room");
    await get(betaHost, "/parties/main/beta-room");
    await waitUntil(() => events.some((e) => JSON.stringify(e).includes("beta-room")), { what: "beta's event" });
    assert.ok(!events.some((e) => JSON.stringify(e).includes("secret-room")), JSON.stringify(events));
    ws.close();
    assert.equal((await admin("DELETE", `/parties/other-team/beta/tail/${t.id}`)).status, 200);
  });
});

describe("partyd serve refuses bad input with a clear 4xx and changes nothing", { timeout: 120_000 }, () => {
  const routes = [
    ["GET", "/flags"], ["GET", "/parties/team"], ["GET", "/parties/team/alpha"],
    ["POST", "/parties/team/alpha"], ["DELETE", "/parties/team/alpha"],
    ["GET", "/parties/team/alpha/assets"], ["PUT", "/parties/team/alpha/assets"],
    ["POST", "/parties/team/alpha/assets"], ["POST", "/parties/team/alpha/prepare_assets"],
    ["GET", "/parties/team/alpha/env"], ["POST", "/parties/team/alpha/env"],
    ["DELETE", "/parties/team/alpha/env"], ["POST", "/parties/team/alpha/env/K"],
    ["DELETE", "/parties/team/alpha/env/K"], ["POST", "/parties/team/alpha/tail"],
    ["DELETE", "/parties/team/alpha/tail/x"], ["GET", "/nothing/here"],
  ];

  test("401 on every route without the token, or with a wrong one", async () => {
    for (const [method, p] of routes) {
      for (const token of [null, "wrong", TOKEN + "x"]) {
        const r = await admin(method, p, { token, body: method === "GET" ? undefined : "{}" });
        assert.equal(r.status, 401, `${method} ${p} with ${token}`);
        assert.match(JSON.parse(r.text).error, /Unauthorized/);
      }
    }
    // Nothing changed.
    assert.equal(JSON.parse((await get(alphaHost, "/parties/main/r1")).body).greeting, "v2");
  });

  test("a corrupt multipart body", async () => {
    const boundary = "----partydtest";
    const cut = `--${boundary}\r\nContent-Disposition: form-data; name="code"\r\n\r\nexport default {}`;
    for (const [body, ct] of [
      [cut, `multipart/form-data; boundary=${boundary}`],
      ["not multipart at all", `multipart/form-data; boundary=${boundary}`],
      ["{}", "application/json"],
      [`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${boundary}--\r\n`, `multipart/form-data; boundary=${boundary}`],
    ]) {
      const r = await admin("POST", "/parties/team/alpha", { body, headers: { "content-type": ct } });
      assert.equal(r.status, 400, r.text);
      assert.ok(JSON.parse(r.text).error.length > 10, r.text);
    }
    assert.equal(JSON.parse((await get(alphaHost, "/parties/main/r1")).body).greeting, "v2");
  });

  test("a bundle that throws at load is refused with its error; the old version keeps serving", async () => {
    const broken = writeProject("alpha", { throwAtLoad: true });
    const r = await cli(["deploy"], { cwd: broken });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /broken at load/);
    assert.match(r.out, /refused and nothing changed/);
    const room = JSON.parse((await get(alphaHost, "/parties/main/r1")).body);
    assert.equal(room.greeting, "v2");
    assert.equal(room.env.SECRET, "s3cret");
  });

  test("an unknown project", async () => {
    for (const [method, p] of [["GET", "/parties/team/nope"], ["DELETE", "/parties/team/nope"],
                               ["POST", "/parties/team/nope/tail"]]) {
      const r = await admin(method, p, { body: method === "GET" ? undefined : "{}" });
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.match(JSON.parse(r.text).error, /no project team\/nope/);
    }
    const r = await cli(["info", "--name", "nope"], { cwd: alphaDir });
    assert.notEqual(r.code, 0);
    assert.match(r.out, /no project team\/nope is deployed/);
    assert.equal((await get(`nope.team.${DOMAIN}`, "/")).status, 404);
    const bad = await admin("GET", "/parties/team/..%2F..%2Fetc");
    assert.equal(bad.status, 400);
  });

  test("an asset name or path that escapes the data folder", async () => {
    for (const name of ["../evil.html", "..", ".hidden", "a/b.html", "%2e%2e%2fx"]) {
      const r = await admin("PUT", "/parties/team/alpha/assets", { body: "x", headers: { "x-partykit-asset-name": name } });
      assert.equal(r.status, 400, name);
      assert.match(JSON.parse(r.text).error, /leave the assets folder/);
    }
    const manifest = JSON.stringify({ assets: { "../../escape.html": "index-abc.html" }, assetInfo: {} });
    const m = await admin("POST", "/parties/team/alpha/assets", { body: manifest, headers: { "content-type": "application/json" } });
    assert.equal(m.status, 400);
    const boundary = "b0undary";
    const form =
      `--${boundary}\r\nContent-Disposition: form-data; name="code"\r\n\r\nclass A {}\nexport { A as default };\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="staticAssetsManifest"\r\n\r\n${manifest}\r\n--${boundary}--\r\n`;
    const d = await admin("POST", "/parties/team/alpha", { body: form, headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
    assert.equal(d.status, 400, d.text);
    assert.match(JSON.parse(d.text).error, /leaves the assets folder/);
    assert.ok(!fs.existsSync(path.join(data, "projects", "team", "escape.html")));
    assert.ok(!fs.existsSync(path.join(data, "evil.html")));
    assert.equal(JSON.parse((await get(alphaHost, "/parties/main/r1")).body).greeting, "v2");
  });

  test("an upload over the limit (--max-upload, 64 MB by default; 1 MB here)", async () => {
    await stopServe(server);
    server = await startServe(["--max-upload", "1"]);
    // Raw: the request's headers announce 2 MB; partyd answers 413 without reading the body
    // (a client that keeps writing after that answer may see EPIPE, so this one waits).
    const net = await import("node:net");
    const raw = await new Promise((resolve, reject) => {
      const sock = net.connect(adminPort, "127.0.0.1");
      let got = "";
      sock.on("data", (d) => (got += d));
      sock.on("end", () => resolve(got));
      sock.on("close", () => resolve(got));
      sock.on("error", reject);
      sock.write(`PUT /parties/team/alpha/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
                 `X-PartyKit-Asset-Name: big.bin\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`);
      sock.write(Buffer.alloc(64 * 1024, 1));
    });
    const r = { status: Number(raw.split(" ")[1]), text: raw.slice(raw.indexOf("\r\n\r\n") + 4) };
    assert.equal(r.status, 413);
    assert.match(JSON.parse(r.text).error, /limit of 1048576 bytes/);
    assert.ok(!fs.existsSync(path.join(data, "projects", "team", "alpha", "deploys", "@", "blobs", "big.bin")));
  });
});

describe("partyd serve keeps deploys across a restart, and deletes", { timeout: 60_000 }, () => {
  test("a restart loads what --data holds: code, env and storage", async () => {
    await stopServe(server);
    server = await startServe();
    const room = JSON.parse((await get(alphaHost, "/parties/main/shared")).body);
    assert.equal(room.greeting, "v2");
    assert.equal(room.env.SECRET, "s3cret");
    assert.equal(room.stored, "alpha-secret");
    assert.equal(JSON.parse((await get(betaHost, "/parties/main/shared")).body).project, "beta");
  });

  test("delete --force removes the project", async () => {
    const r = await cli(["delete", "--force"], { cwd: alphaDir });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Deleted/);
    assert.equal((await admin("GET", "/parties/team/alpha")).status, 404);
    assert.equal((await get(alphaHost, "/parties/main/r1")).status, 404);
    assert.ok(!fs.existsSync(path.join(data, "projects", "team", "alpha")));
    // beta is untouched.
    assert.equal(JSON.parse((await get(betaHost, "/parties/main/r1")).body).project, "beta");
  });
});
