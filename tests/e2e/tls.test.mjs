// partyd serve --tls-cert/--tls-key: HTTPS and WSS on the public port through the same routing
// (request.url says https), the admin API over TLS when it is not on loopback, SIGHUP loading a
// new certificate for new connections (and keeping the old one when the new files are bad), and
// bad certificate or key files refused at start with a clear error and a non-zero exit.
// Certificates are made for each run with the openssl command.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { freePort, tmpDir, waitUntil, WebSocket, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const dir = tmpDir("partyd-tls-");

// A self-signed certificate for 127.0.0.1 with this common name and serial (hex).
function makeCert(name, serial) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`, "-set_serial", `0x${serial}`,
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:TRUE",
  ], { stdio: "ignore" });
  return { cert, key, pem: fs.readFileSync(cert, "utf8") };
}

function writeProject() {
  const project = path.join(dir, "project");
  fs.mkdirSync(path.join(project, "src"), { recursive: true });
  fs.writeFileSync(path.join(project, "partykit.json"),
    JSON.stringify({ name: "tlsapp", main: "src/server.js", compatibilityDate: "2024-01-01" }));
  fs.writeFileSync(path.join(project, "src", "server.js"), `
export default class Server {
  constructor(room) { this.room = room; }
  onConnect(conn, ctx) { conn.send("hello " + new URL(ctx.request.url).protocol); }
  onMessage(msg, sender) { sender.send("echo:" + msg); }
  onRequest(req) { return Response.json({ url: req.url, room: this.room.id }); }
}
`);
  return project;
}

function spawnServe(args) {
  const proc = spawn(PARTYD, ["serve", "--address", "127.0.0.1", "--threads", "2", ...args],
    { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => proc.once("exit", (code) => r(code)));
  return { proc, exited, get out() { return out; } };
}

// The peer certificate a new TLS connection to port sees.
function peerCert(port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve(c);
    });
    s.on("error", reject);
  });
}

function httpsGet(port, urlPath, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path: urlPath, ca, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
  });
}

function wss(port, urlPath, ca) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}${urlPath}`, { ca });
    ws.once("message", (m) => resolve({ ws, first: String(m) }));
    ws.once("error", reject);
  });
}

describe("partyd serve with TLS", () => {
  let first, second, server, port, adminPort, project, data;

  before(async () => {
    first = makeCert("first", "0A01");
    second = makeCert("second", "0B02");
    project = writeProject();
    data = path.join(dir, "data");
    port = await freePort();
    adminPort = await freePort();
    // The live files the server reads; SIGHUP reads them again.
    fs.copyFileSync(first.cert, path.join(dir, "live.crt"));
    fs.copyFileSync(first.key, path.join(dir, "live.key"));
    // --admin on 127.0.0.2 (not loopback by name): it speaks TLS too.
    server = spawnServe(["--port", String(port), "--data", data, "--admin", `127.0.0.2:${adminPort}`,
      "--admin-token", "secret-token-123", "--tls-cert", path.join(dir, "live.crt"),
      "--tls-key", path.join(dir, "live.key"), project]);
    await waitUntil(() => server.out.includes("Ready on"), { timeout: 20_000, what: `ready:\n${server.out}` });
    assert.match(server.out, new RegExp(`Ready on https://127\\.0\\.0\\.1:${port}`));
    assert.match(server.out, /Admin API on https:/);
  });

  after(async () => {
    if (server && server.proc.exitCode === null) {
      server.proc.kill("SIGTERM");
      await server.exited;
    }
  });

  test("https: a request reaches the room, and request.url says https", async () => {
    const r = await httpsGet(port, "/parties/main/r1", first.pem);
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.room, "r1");
    assert.match(j.url, /^https:\/\/127\.0\.0\.1:\d+\/parties\/main\/r1$/);
    // keep-alive: several requests on one connection.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: first.pem });
    for (let i = 0; i < 5; i++) {
      const body = await new Promise((resolve, reject) => {
        https.get({ host: "127.0.0.1", port, path: `/parties/main/k${i}`, agent }, (res) => {
          let b = "";
          res.on("data", (d) => (b += d));
          res.on("end", () => resolve(b));
        }).on("error", reject);
      });
      assert.equal(JSON.parse(body).room, `k${i}`);
    }
    agent.destroy();
  });

  test("wss: a WebSocket connects, echoes and closes cleanly", async () => {
    const { ws, first: hello } = await wss(port, "/parties/main/chat", first.pem);
    assert.equal(hello, "hello https:");
    const big = "x".repeat(200_000); // more than one TLS record and one pipe read
    const got = new Promise((r) => ws.on("message", (m) => r(String(m))));
    ws.send(big);
    assert.equal(await got, "echo:" + big);
    const closed = new Promise((r) => ws.once("close", (code) => r(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });

  test("a client that does not trust the certificate is refused by its own check", async () => {
    await assert.rejects(httpsGet(port, "/parties/main/r1", undefined), /self-signed|certificate/);
  });

  test("plain HTTP on the TLS port gets no answer as HTTP", async () => {
    const r = await fetch(`http://127.0.0.1:${port}/parties/main/r1`).then(
      (res) => res.status, (e) => "error");
    assert.equal(r, "error");
  });

  test("the admin API speaks TLS (and still wants its token)", async () => {
    const r = await new Promise((resolve, reject) => {
      https.get({ host: "127.0.0.2", port: adminPort, path: "/metrics", ca: first.pem,
                  servername: "localhost", checkServerIdentity: () => undefined, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      }).on("error", reject);
    });
    assert.equal(r, 401);
  });

  test("SIGHUP: new connections get the new certificate, open ones keep working", async () => {
    const before = await peerCert(port, first.pem);
    assert.equal(before.subject.CN, "first");
    assert.equal(before.serialNumber, "0A01");
    const { ws } = await wss(port, "/parties/main/kept", first.pem);

    fs.copyFileSync(second.cert, path.join(dir, "live.crt"));
    fs.copyFileSync(second.key, path.join(dir, "live.key"));
    server.proc.kill("SIGHUP");
    await waitUntil(() => server.out.includes("reloaded the TLS certificate"), { what: "the reload log" });
    const now = await peerCert(port, second.pem);
    assert.equal(now.subject.CN, "second");
    assert.equal(now.serialNumber, "0B02");
    const r = await httpsGet(port, "/parties/main/after", second.pem);
    assert.equal(r.status, 200);

    // The socket opened under the old certificate still works.
    const got = new Promise((r2) => ws.once("message", (m) => r2(String(m))));
    ws.send("still");
    assert.equal(await got, "echo:still");
    ws.close();

    // A bad new file keeps the current certificate, and the log says why.
    fs.writeFileSync(path.join(dir, "live.crt"), "not a certificate\n");
    server.proc.kill("SIGHUP");
    await waitUntil(() => server.out.includes("kept the old TLS certificate"), { what: "the refusal log" });
    assert.match(server.out, /kept the old TLS certificate: bad TLS certificate .*live\.crt/);
    const still = await peerCert(port, second.pem);
    assert.equal(still.subject.CN, "second");
    assert.equal(server.proc.exitCode, null);
  });
});

describe("partyd serve refuses bad TLS files at start", () => {
  let good, other, project, port;
  before(async () => {
    good = makeCert("good", "01");
    other = makeCert("other", "02");
    project = writeProject();
    port = await freePort();
  });

  async function refused(args, pattern) {
    const s = spawnServe(["--port", String(port), "--data", path.join(dir, "data-bad"), ...args, project]);
    const code = await s.exited;
    assert.notEqual(code, 0, s.out);
    assert.match(s.out, pattern);
    assert.doesNotMatch(s.out, /Ready on/);
  }

  test("a file that is not a certificate", async () => {
    const bad = path.join(dir, "bad.crt");
    fs.writeFileSync(bad, "garbage\n");
    await refused(["--tls-cert", bad, "--tls-key", good.key], /bad TLS certificate .*bad\.crt/);
  });

  test("a missing key file", async () => {
    await refused(["--tls-cert", good.cert, "--tls-key", path.join(dir, "nope.key")],
      /cannot read the TLS key .*nope\.key: No such file/);
  });

  test("a key that does not match the certificate", async () => {
    await refused(["--tls-cert", good.cert, "--tls-key", other.key], /does not match the certificate/);
  });

  test("a certificate without its key", async () => {
    await refused(["--tls-cert", good.cert], /--tls-cert and --tls-key go together/);
  });
});
