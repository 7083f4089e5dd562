// Observability (issue 11): /metrics on `partyd dev --admin`, checked by Prometheus's own
// `promtool check metrics` on a live scrape; counters that move as a scripted client connects,
// sends, writes storage and disconnects; the inspector's JSON; and `--log-format json`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { IS_PARTYKIT, connect, freePort, startServer, waitUntil } from "../harness.mjs";

const skip = IS_PARTYKIT ? "partyd only: partykit dev has no admin listener" : false;

// name{labels} value lines of a scrape → Map("name{labels}" → number)
function parse(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

const L = (extra = "") => `{project="e2e-observe",party="main"${extra}}`;

describe("observability", { skip }, () => {
  let server;
  let admin;

  before(async () => {
    const port = await freePort();
    server = await startServer("observe", { args: ["--admin", `127.0.0.1:${port}`, "--threads", "2", "--hibernate-after", "300"] });
    admin = `http://127.0.0.1:${port}`;
  });
  after(() => server?.stop());

  const scrape = async () => {
    const r = await fetch(`${admin}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    return r.text();
  };

  test("promtool check metrics accepts a live scrape", async (t) => {
    const promtool = spawnSync("promtool", ["--version"]);
    if (promtool.error) {
      t.skip("promtool is not installed (Debian package prometheus; scripts/setup.sh installs it)");
      return;
    }
    // Traffic first, so that every family has samples (histogram buckets, close codes, HTTP).
    const c = await connect(server.host, "/parties/main/promtool");
    c.send("put a 1");
    await c.waitFor((m) => m === "stored a");
    await fetch(`http://${server.host}/parties/main/promtool`);
    await c.closeAndWait(1000);
    const text = await scrape();
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}\n${text}`);
    for (const family of ["partyd_build_info", "partyd_connections_active", "partyd_handler_duration_seconds",
      "partyd_storage_commit_duration_seconds", "partyd_http_requests_total", "partyd_alarm_runs_total"]) {
      assert.match(text, new RegExp(`^# TYPE ${family} `, "m"), family);
    }
    assert.doesNotMatch(text, /room="/, "no room id label");
  });

  test("counters move as a client connects, sends, writes storage and disconnects", async () => {
    const before = parse(await scrape());
    const v = (m, key) => m.get(key) ?? 0;

    const c = await connect(server.host, "/parties/main/counted");
    await c.waitFor((m) => String(m).startsWith("hello"));
    let m = parse(await scrape());
    assert.equal(v(m, `partyd_connections_opened_total${L()}`) - v(before, `partyd_connections_opened_total${L()}`), 1);
    assert.equal(v(m, `partyd_connections_active${L()}`) - v(before, `partyd_connections_active${L()}`), 1);
    assert.ok(v(m, `partyd_rooms_active${L()}`) >= 1);

    c.send("echo-me");
    c.send('put big {"x":"' + "y".repeat(100) + '"}');
    await c.waitFor((msg) => msg === "stored big");
    m = parse(await scrape());
    assert.equal(v(m, `partyd_ws_messages_received_total${L()}`) - v(before, `partyd_ws_messages_received_total${L()}`), 2);
    assert.ok(v(m, `partyd_ws_bytes_received_total${L()}`) - v(before, `partyd_ws_bytes_received_total${L()}`) >= 7 + 115);
    // hello, the echo and "stored big"
    assert.equal(v(m, `partyd_ws_messages_sent_total${L()}`) - v(before, `partyd_ws_messages_sent_total${L()}`), 3);
    const commits = 'partyd_storage_commit_duration_seconds_count{project="e2e-observe"}';
    assert.ok(v(m, commits) > v(before, commits), "a storage commit was timed");
    const bytes = 'partyd_storage_bytes{project="e2e-observe"}';
    assert.ok(v(m, bytes) > 0);
    const handler = 'partyd_handler_duration_seconds_count{project="e2e-observe"}';
    assert.ok(v(m, handler) >= v(before, handler) + 3, "connect and two messages ran user code");

    const r = await fetch(`http://${server.host}/parties/main/counted?fail=1`);
    assert.equal(r.status, 503);
    await c.closeAndWait(4001, "bye");
    await waitUntil(async () => {
      m = parse(await scrape());
      return v(m, `partyd_connections_active${L()}`) === v(before, `partyd_connections_active${L()}`);
    }, { what: "the connection to be gone from partyd_connections_active" });
    assert.equal(v(m, `partyd_connections_closed_total${L(',code="4xxx"')}`) -
      v(before, `partyd_connections_closed_total${L(',code="4xxx"')}`), 1);
    assert.equal(v(m, `partyd_http_requests_total${L(',code="5xx"')}`) -
      v(before, `partyd_http_requests_total${L(',code="5xx"')}`), 1);
  });

  test("the inspector's JSON lists the room, its connections, storage and log", async () => {
    const c = await connect(server.host, "/parties/main/inspected?_pk=visitor-1");
    c.send('put doc {"list":[1,2,3],"name":"ä\\n"}');
    await c.waitFor((msg) => msg === "stored doc");
    const rooms = await (await fetch(`${admin}/api/rooms`)).json();
    const room = rooms.rooms.find((r) => r.room === "inspected");
    assert.ok(room, JSON.stringify(rooms));
    assert.equal(room.connections, 1);
    assert.equal(room.storageKeys, 1);
    assert.equal(room.messagesIn, 1);
    const storage = await (await fetch(`${admin}/api/rooms/main/inspected/storage`)).json();
    assert.deepEqual(storage.entries.map((e) => [e.key, e.value]), [["doc", '{"list": [1, 2, 3], "name": "ä\\n"}']]);
    const detail = await (await fetch(`${admin}/api/rooms/main/inspected`)).json();
    assert.equal(detail.connections.length, 1);
    assert.equal(detail.connections[0].state, "open");
    assert.equal(detail.connections[0].id, "visitor-1");
    assert.ok(detail.log.some((l) => l.includes("message from") && l.includes("put doc")), detail.log.join("\n"));
    const missing = await fetch(`${admin}/api/rooms/main/nowhere`);
    assert.equal(missing.status, 404);
    const value = await (await fetch(`${admin}/api/rooms/main/inspected/value?key=doc&offset=2&length=4`)).json();
    assert.equal(value.text, "list");
    await c.closeAndWait();
  });

  test("reading a hibernated room does not wake it", async () => {
    const c = await connect(server.host, "/parties/sleepy/nap");
    await c.waitFor((m) => m === "hello");
    c.send("zzz");
    await c.waitFor((m) => m === "stored");
    const sleeping = async () => {
      const rooms = await (await fetch(`${admin}/api/rooms`)).json();
      return rooms.rooms.find((r) => r.party === "sleepy" && r.room === "nap")?.hibernated;
    };
    await waitUntil(sleeping, { timeout: 10_000, what: "the room to hibernate" });
    const activations = async () =>
      parse(await scrape()).get('partyd_room_activations_total{project="e2e-observe",party="sleepy"}');
    const before = await activations();
    const detail = await (await fetch(`${admin}/api/rooms/sleepy/nap`)).json();
    assert.equal(detail.summary.hibernated, true);
    // The socket's id, state and tags come from its stash, read without waking the room.
    assert.match(detail.connections[0].stash, /"color": "teal"/);
    const storage = await (await fetch(`${admin}/api/rooms/sleepy/nap/storage`)).json();
    assert.deepEqual(storage.entries.map((e) => e.value), ['"zzz"']);
    assert.equal(await sleeping(), true);
    assert.equal(await activations(), before);
    await c.closeAndWait();
  });

  test("a bad --admin address is a clear error", async () => {
    await assert.rejects(startServer("observe", { args: ["--admin", "nonsense:port"] }), /--admin needs PORT or HOST:PORT/);
  });
});

describe("--log-format json", { skip }, () => {
  test("one JSON object per line with the fields, the text format unchanged by default", async () => {
    const server = await startServer("observe", { args: ["--log-format", "json"] });
    try {
      const c = await connect(server.host, "/parties/main/logged");
      c.send("hi there");
      await c.waitFor((m) => m === "hi there");
      await fetch(`http://${server.host}/parties/main/logged`);
      await c.closeAndWait();
      let lines;
      await waitUntil(() => {
        lines = server.logs().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        return lines.some((l) => l.event === "request");
      }, { what: "the request's JSON line" });
      for (const l of lines) {
        assert.deepEqual(Object.keys(l), ["time", "level", "project", "party", "room", "event", "status", "duration", "message"]);
        assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(l.project, "e2e-observe");
      }
      const request = lines.find((l) => l.event === "request");
      assert.equal(request.party, "main");
      assert.equal(request.room, "logged");
      assert.equal(request.status, 200);
      assert.equal(typeof request.duration, "number");
      const connectLine = lines.find((l) => l.event === "connect");
      assert.equal(connectLine.status, 101);
      const consoleLine = lines.find((l) => l.message.includes("message from"));
      assert.equal(consoleLine.room, "logged", "console output names the room whose handler ran");
      // Non-JSON lines: only the Ready line, which the harness and tools read.
      const other = server.logs().split("\n").filter((l) => l && !l.startsWith("{"));
      assert.ok(other.every((l) => /Ready on|Admin on/.test(l)), other.join("\n"));
    } finally {
      await server.stop();
    }
    const plain = await startServer("observe");
    try {
      await fetch(`http://${plain.host}/parties/main/x`);
      await waitUntil(() => /\[partyd:inf\] GET \/parties\/main\/x 200 [\d.]+ms/.test(plain.logs()), { what: "the text line" });
    } finally {
      await plain.stop();
    }
  });
});
