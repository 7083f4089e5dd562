// The admin listener of `partyd serve` (issue 11): /metrics with every deployed project in the
// same families (a `project` label), checked by Debian's promtool; the inspector's JSON listing
// projects then rooms, and a live room's connections with their tags, state (setState) and
// attachment (serializeAttachment), cut with a truncated mark; the request-duration histogram
// counting requests by kind. The two projects are written straight into the data folder, which
// serve loads at start (as a deploy leaves them: an adapted bundle and meta.json).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import http from "node:http";
import { IS_PARTYKIT, connect, freePort, tmpDir, waitUntil, TESTS_DIR } from "../harness.mjs";

const PARTYD = process.env.PARTYD ?? path.join(TESTS_DIR, "..", "build", "partyd");
const TOKEN = "e2e-observe-token-0123456789";
const DOMAIN = "obs.local";
const T = { headers: { authorization: `Bearer ${TOKEN}` } };

function writeProject(data, name) {
  const dir = path.join(data, "projects", "team", name, "deploys", "@");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "bundle.js"),
    `var Main = class {
  constructor(room) { this.room = room; }
  getConnectionTags(conn, ctx) { return ["${name}-tag", "blue"]; }
  onConnect(conn) {
    conn.setState({ project: "${name}", big: "y".repeat(3000) });
    conn.serializeAttachment({ seat: 7 });
  }
  onMessage(message, sender) { sender.send("echo " + message); }
  onRequest() { return new Response("${name} says hi"); }
};
globalThis.__partyd_parties = { "main": Main };
`,
  );
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ name }));
}

describe("partyd serve: /metrics and the inspector over several projects", { skip: IS_PARTYKIT && "partyd only" }, () => {
  let proc, out = "", host, admin;

  before(async () => {
    const data = tmpDir("partyd-serve-observe-");
    writeProject(data, "alpha");
    writeProject(data, "beta");
    const port = await freePort(), adminPort = await freePort();
    host = `127.0.0.1:${port}`;
    admin = `http://127.0.0.1:${adminPort}`;
    proc = spawn(PARTYD, ["serve", "--port", String(port), "--address", "127.0.0.1", "--threads", "2",
      "--data", data, "--admin", `127.0.0.1:${adminPort}`, "--admin-token", TOKEN, "--domain", DOMAIN],
    { stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (out += d));
    await waitUntil(() => out.includes("Ready on"), { timeout: 15_000, what: `partyd serve ready:\n${out}` });
    assert.match(out, /started team\/alpha/);
    assert.match(out, /started team\/beta/);
  });
  after(async () => {
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  });

  // A GET with the project's Host header (which fetch does not let a caller set).
  const get = (project, p) => new Promise((resolve, reject) => {
    const [hostname, port] = host.split(":");
    http.get({ hostname, port, path: p, headers: { host: `${project}.team.${DOMAIN}` } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, text: async () => body }));
    }).on("error", reject);
  });
  const scrape = async () => (await fetch(`${admin}/metrics`, T)).text();
  const sample = (text, name, labels) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = text.split("\n").find((l) => l.startsWith(name + "{") && want.every((w) => l.includes(w)));
    return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
  };

  test("the admin token guards /metrics and the inspector", async () => {
    assert.equal((await fetch(`${admin}/metrics`)).status, 401);
    assert.equal((await fetch(`${admin}/api/rooms`)).status, 401);
    assert.equal((await fetch(`${admin}/`)).status, 401);
    assert.equal((await fetch(`${admin}/login`)).status, 200);
    assert.equal((await fetch(`${admin}/metrics`, T)).status, 200);
  });

  test("both projects' series in one scrape, which promtool accepts; the histogram counts requests", async (t) => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) assert.equal(await (await get("alpha", "/parties/main/a1")).text(), "alpha says hi");
    assert.equal(await (await get("beta", "/parties/main/b1")).text(), "beta says hi");
    const text = await scrape();
    // One HELP and TYPE per family, whatever the number of projects.
    for (const family of ["partyd_build_info", "partyd_http_requests_total", "partyd_http_request_duration_seconds"]) {
      assert.equal(text.split("\n").filter((l) => l === `# TYPE ${family} ${family.endsWith("seconds") ? "histogram" : family.endsWith("total") ? "counter" : "gauge"}`).length, 1, family);
    }
    assert.equal(sample(text, "partyd_build_info", { project: "team/alpha" }), 1);
    assert.equal(sample(text, "partyd_build_info", { project: "team/beta" }), 1);
    const count = (txt, project) => sample(txt, "partyd_http_request_duration_seconds_count", { project, kind: "party", code: "2xx" });
    assert.equal(count(text, "team/alpha") - count(before, "team/alpha"), 3);
    assert.equal(count(text, "team/beta") - count(before, "team/beta"), 1);
    assert.equal(sample(text, "partyd_http_requests_total", { project: "team/alpha", party: "main", code: "2xx" }) -
                 sample(before, "partyd_http_requests_total", { project: "team/alpha", party: "main", code: "2xx" }), 3);
    assert.ok(sample(text, "partyd_http_request_duration_seconds_bucket", { project: "team/alpha", kind: "party", code: "2xx", le: "+Inf" }) >= 3);
    // An unknown path of a project with no onFetch: kind "fetch", 404.
    assert.equal((await get("beta", "/nowhere")).status, 404);
    assert.equal(sample(await scrape(), "partyd_http_request_duration_seconds_count", { project: "team/beta", kind: "fetch", code: "4xx" }), 1);

    const promtool = spawnSync("promtool", ["--version"]);
    if (promtool.error) return t.skip("promtool is not installed (Debian package prometheus)");
    const check = spawnSync("promtool", ["check", "metrics"], { input: await scrape() });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  });

  test("the inspector lists projects, then rooms; a live connection's tags, state and attachment", async () => {
    const c = await connect(host, "/parties/main/live?_pk=conn-1", { headers: { host: `alpha.team.${DOMAIN}` } });
    c.send("hello");
    await c.waitFor((m) => m === "echo hello");
    const rooms = await (await fetch(`${admin}/api/rooms`, T)).json();
    assert.deepEqual([...rooms.projects].sort(), ["team/alpha", "team/beta"]);
    const live = rooms.rooms.find((r) => r.room === "live");
    assert.equal(live.project, "team/alpha");
    assert.equal(live.connections, 1);
    assert.ok(rooms.rooms.some((r) => r.project === "team/beta" && r.room === "b1"));

    // Several projects: a room is named with ?project=.
    assert.equal((await fetch(`${admin}/api/rooms/main/live`, T)).status, 400);
    assert.equal((await fetch(`${admin}/api/rooms/main/live?project=team/beta`, T)).status, 404);
    const detail = await (await fetch(`${admin}/api/rooms/main/live?project=team/alpha`, T)).json();
    assert.equal(detail.connections.length, 1);
    const conn = detail.connections[0];
    assert.equal(conn.id, "conn-1");
    assert.equal(conn.source, "object");
    assert.equal(conn.tags.text, '["conn-1", "alpha-tag", "blue"]');
    assert.equal(conn.attachment.text, '{"seat": 7}');
    assert.equal(conn.attachment.truncated, false);
    // The state is over the 1000-character cap: cut, marked, with its whole length.
    assert.equal(conn.stateValue.truncated, true);
    assert.ok(conn.stateValue.length > 3000, String(conn.stateValue.length));
    assert.equal(conn.stateValue.text.length, 1000);
    assert.ok(conn.stateValue.text.startsWith('{"project": "alpha", "big": "yyy'), conn.stateValue.text.slice(0, 60));
    // Reading it ran no handler of the room and left it serving.
    c.send("again");
    await c.waitFor((m) => m === "echo again");

    // The WebSocket's upgrade is timed under kind "upgrade" (101).
    const text = await scrape();
    assert.ok(sample(text, "partyd_http_request_duration_seconds_count", { project: "team/alpha", kind: "upgrade", code: "1xx" }) >= 1);
    assert.equal(sample(text, "partyd_connections_active", { project: "team/alpha", party: "main" }), 1);
    c.close();
  });
});
