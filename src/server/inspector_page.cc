// The inspector's pages, embedded in the binary (no build step): see observe.h.
#include "server/observe.h"

namespace partyd::server {

const char* const kLoginHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>partyd admin: log in</title>
<style>body{font:14px system-ui,sans-serif;margin:4em auto;max-width:24em;color:#222}
input,button{font:inherit;padding:.4em;width:100%;box-sizing:border-box;margin:.3em 0}</style>
</head><body><h1>partyd admin</h1>
<form id="f"><label>Admin token <input id="token" type="password" autocomplete="current-password"></label>
<button id="login" type="submit">Log in</button></form><p id="msg"></p>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const t = document.getElementById('token').value;
  document.cookie = 'partyd_admin=' + t + '; path=/; SameSite=Strict';
  const r = await fetch('/api/rooms');
  if (r.ok) location.href = '/';
  else document.getElementById('msg').textContent = 'That token was not accepted (' + r.status + ').';
});
</script></body></html>
)HTML";

const char* const kInspectorHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>partyd inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f6f8}
header{background:#23232b;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:baseline}
header h1{font-size:16px;margin:0}header .muted{color:#aaa}
main{display:grid;grid-template-columns:minmax(420px,1fr) minmax(420px,1fr);gap:1em;padding:1em}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em .8em;overflow:auto}
h2{font-size:14px;margin:.2em 0 .5em}h3{font-size:13px;margin:.8em 0 .3em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top}
th{cursor:pointer;user-select:none;background:#fafafa;white-space:nowrap}th.sorted::after{content:" \25BE"}th.sorted.asc::after{content:" \25B4"}
tr.room{cursor:pointer}tr.room:hover{background:#eef4ff}tr.room.selected{background:#dde9ff}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.party{font-weight:600;margin-top:.6em}.tag{display:inline-block;padding:0 5px;border-radius:3px;background:#eee;font-size:11px}
.tag.sleep{background:#e9e0ff}.tag.live{background:#dff5e1}
pre,code,.mono{font:12px ui-monospace,Menlo,monospace}pre{white-space:pre-wrap;word-break:break-all;margin:0}
#log{max-height:260px;overflow:auto;background:#111;color:#ddd;padding:6px;border-radius:4px}
#plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.6em;grid-column:1/-1}
.plot{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4em .6em}.plot .v{font-size:15px;font-weight:600}
.plot svg{width:100%;height:40px;display:block}button{font:inherit}
.project{font-weight:700;font-size:14px;margin-top:.8em;border-bottom:2px solid #23232b}.cut{color:#b00;font-style:italic}
</style></head><body>
<header><h1>partyd inspector</h1><span id="project" class="muted"></span><span id="status" class="muted"></span></header>
<main>
<div id="plots"></div>
<section id="roomsPane"><h2>Rooms</h2><div id="rooms">loading…</div></section>
<section id="detail"><h2 id="detailTitle">Select a room</h2><div id="detailBody"></div></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
const fmtBytes = (n) => n == null ? "" : n < 1024 ? n + " B" : n < 1048576 ? (n/1024).toFixed(1) + " KiB" : (n/1048576).toFixed(1) + " MiB";
const fmtAgo = (ms) => ms < 1000 ? "now" : ms < 60000 ? Math.round(ms/1000) + " s ago" : ms < 3600000 ? Math.round(ms/60000) + " min ago" : Math.round(ms/3600000) + " h ago";
const fmtAge = (ms) => ms < 60000 ? Math.round(ms/1000) + " s" : ms < 3600000 ? Math.round(ms/60000) + " min" : (ms/3600000).toFixed(1) + " h";
async function api(path) {
  const r = await fetch(path, {cache: "no-store"});
  if (r.status === 401) { location.href = "/login"; throw new Error("401"); }
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r;
}

// ---- rooms: projects → parties → rooms, sortable, live ----
const state = {sort: "messageRate", asc: false, selected: null, prev: new Map(), rooms: [], projects: []};
const columns = [
  ["room", "room"], ["connections", "conns"], ["messageRate", "msg/s"], ["storageBytes", "storage"],
  ["nextAlarm", "next alarm"], ["hibernated", "state"], ["idleMs", "last activity"]];
async function refreshRooms() {
  const data = await (await api("/api/rooms")).json();
  $("project").textContent = data.projects.length === 1 ? "project " + data.projects[0] : data.projects.length + " projects";
  const t = performance.now();
  for (const r of data.rooms) {
    const key = r.project + "\u0000" + r.party + "/" + r.room, msgs = r.messagesIn + r.messagesOut, p = state.prev.get(key);
    r.messageRate = p ? Math.max(0, (msgs - p.msgs) / ((t - p.t) / 1000)) : 0;
    r.key = key;
    state.prev.set(key, {msgs, t});
  }
  state.rooms = data.rooms;
  state.projects = data.projects;
  renderRooms();
}
function renderRooms() {
  let html = "";
  if (!state.projects.length) html += "<p>No project is running.</p>";
  for (const project of state.projects) html += renderProject(project, state.rooms.filter((r) => r.project === project));
  $("rooms").innerHTML = html;
}
function renderProject(project, projectRooms) {
  const byParty = new Map();
  for (const r of projectRooms) {
    if (!byParty.has(r.party)) byParty.set(r.party, []);
    byParty.get(r.party).push(r);
  }
  const k = state.sort, dir = state.asc ? 1 : -1;
  const cmp = (a, b) => {
    const x = a[k] ?? -Infinity, y = b[k] ?? -Infinity;
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  };
  let html = '<div class="project mono" data-project="' + esc(project) + '">' + esc(project) + "</div>";
  if (!projectRooms.length) html += "<p>No live rooms. A room appears when a client connects or sends a request.</p>";
  for (const [party, rooms] of [...byParty].sort()) {
    rooms.sort(cmp);
    html += '<div class="party">party ' + esc(party || "(none)") + " · " + rooms.length + " room(s)</div><table><tr>";
    for (const [ck, label] of columns) html += '<th data-k="' + ck + '" class="' + (ck === k ? "sorted" + (state.asc ? " asc" : "") : "") + '">' + label + "</th>";
    html += "</tr>";
    for (const r of rooms) {
      html += '<tr class="room' + (state.selected === r.key ? " selected" : "") + '" data-key="' + esc(r.key) + '" data-project="' + esc(r.project) + '" data-party="' + esc(r.party) + '" data-room="' + esc(r.room) + '">' +
        "<td>" + esc(r.room) + '</td><td class="num conns">' + r.connections + '</td><td class="num rate">' + r.messageRate.toFixed(1) +
        '</td><td class="num storage">' + fmtBytes(r.storageBytes) + "</td><td>" + (r.nextAlarm ? new Date(r.nextAlarm).toLocaleTimeString() : "") +
        "</td><td>" + (r.hibernated ? '<span class="tag sleep">hibernated</span>' : '<span class="tag live">live</span>') + "</td><td>" + fmtAgo(r.idleMs) + "</td></tr>";
    }
    html += "</table>";
  }
  return html;
}
$("rooms").addEventListener("click", (e) => {
  const th = e.target.closest("th");
  if (th) {
    if (state.sort === th.dataset.k) state.asc = !state.asc; else { state.sort = th.dataset.k; state.asc = th.dataset.k === "room"; }
    return renderRooms();
  }
  const tr = e.target.closest("tr.room");
  if (tr) select(tr.dataset.project, tr.dataset.party, tr.dataset.room);
});

// ---- one room: connections, storage (paged), live log ----
let storagePages = [];
const roomBase = () => "/api/rooms/" + encodeURIComponent(state.party) + "/" + encodeURIComponent(state.room);
const inProject = (sep) => sep + "project=" + encodeURIComponent(state.project);
function select(project, party, room) {
  state.selected = project + "\u0000" + party + "/" + room;
  state.project = project; state.party = party; state.room = room;
  storagePages = [];
  $("detailTitle").textContent = "Room " + party + "/" + room + (state.projects.length > 1 ? " of " + project : "");
  $("detailBody").innerHTML = '<h3>Connections</h3><div id="conns"></div><h3>Storage</h3><div id="storage"></div>' +
    '<button id="moreKeys" hidden>more keys</button><h3>Log</h3><pre id="log"></pre>';
  $("moreKeys").onclick = () => loadStorage(true);
  renderRooms();
  refreshRoom();
  loadStorage(false);
}
async function refreshRoom() {
  if (!state.selected) return;
  const r = await fetch(roomBase() + inProject("?"), {cache: "no-store"});
  if (r.status === 404) { $("conns").textContent = "The room is no longer live (evicted)."; return; }
  if (!r.ok) return;
  const d = await r.json();
  // A connection's tags, state and attachment: cloned text, cut at 1000 characters each.
  const item = (it, cls) => it == null ? "" : '<pre class="' + cls + '">' + esc(it.text) + "</pre>" +
    (it.truncated ? '<span class="cut">… truncated (' + it.length + " characters)</span>" : "");
  let html = "<table><tr><th>handle</th><th>id</th><th>socket</th><th>age</th><th>queued</th><th>tags</th><th>state</th><th>attachment</th></tr>";
  for (const c of d.connections) {
    html += '<tr class="conn" data-id="' + esc(c.id) + '"><td>' + c.handle + '</td><td class="mono">' + esc(c.id) + "</td><td>" + esc(c.state) +
      (c.source === "stash" ? ' <span class="tag sleep">stashed</span>' : "") + "</td><td>" + fmtAge(c.ageMs) + "</td><td>" + fmtBytes(c.queuedBytes) + "</td>" +
      (c.error ? '<td colspan="3" class="cut">' + esc(c.error) + "</td>"
               : "<td>" + item(c.tags, "tags") + "</td><td>" + item(c.stateValue, "state") + "</td><td>" + item(c.attachment, "attachment") + "</td>") + "</tr>";
  }
  $("conns").innerHTML = d.connections.length ? html + "</table>" : "No connections.";
  if (storagePages.length <= 1) await loadStorage(false);
  const log = $("log"), atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = d.log.join("\n");
  if (atEnd) log.scrollTop = log.scrollHeight;
}
async function loadStorage(more) {
  const base = roomBase();
  const after = more && storagePages.length ? storagePages[storagePages.length - 1].next : "";
  const d = await (await api(base + "/storage?limit=50" + inProject("&") + (after ? "&after=" + encodeURIComponent(after) : ""))).json();
  if (!more) storagePages = [];
  storagePages.push(d);
  renderStorage(base);
}
function renderStorage(base) {
  const entries = storagePages.flatMap((p) => p.entries);
  let html = "<table><tr><th>key</th><th>bytes</th><th>value</th></tr>";
  for (const e of entries) {
    html += '<tr class="entry"><td class="mono">' + esc(e.key) + '</td><td class="num">' + e.bytes + "</td><td><pre>" + esc(e.value) +
      (e.truncated ? '</pre><button class="page" data-key="' + esc(e.key) + '" data-offset="' + e.value.length + '">more (' + e.textLength + " chars)</button>" : "</pre>") + "</td></tr>";
  }
  $("storage").innerHTML = entries.length ? html + "</table>" : "No keys.";
  $("moreKeys").hidden = !storagePages[storagePages.length - 1].more;
  for (const b of $("storage").querySelectorAll("button.page")) {
    b.onclick = async () => {
      const d = await (await api(base + "/value?key=" + encodeURIComponent(b.dataset.key) + "&offset=" + b.dataset.offset + inProject("&"))).json();
      b.previousElementSibling.textContent += d.text;
      const next = d.offset + d.text.length;
      if (next >= d.textLength) b.remove(); else b.dataset.offset = next;
    };
  }
}

// ---- the server's /metrics as small time plots ----
const series = new Map();
const plots = [
  ["connections", "partyd_connections_active", false], ["rooms live", "partyd_rooms_active", false],
  ["rooms hibernated", "partyd_rooms_hibernated", false], ["messages in /s", "partyd_ws_messages_received_total", true],
  ["messages out /s", "partyd_ws_messages_sent_total", true], ["HTTP requests /s", "partyd_http_requests_total", true],
  ["handler runs /s", "partyd_handler_duration_seconds_count", true], ["storage", "partyd_storage_bytes", false]];
let lastScrape = null;
async function refreshMetrics() {
  const text = await (await api("/metrics")).text();
  const sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const name = line.slice(0, line.search(/[{ ]/)), value = Number(line.slice(line.lastIndexOf(" ") + 1));
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  const t = performance.now();
  for (const [label, name, rate] of plots) {
    let v = sums.get(name) ?? 0;
    if (rate) {
      const prev = lastScrape?.sums.get(name);
      v = prev == null ? 0 : Math.max(0, (v - prev) / ((t - lastScrape.t) / 1000));
    }
    const s = series.get(label) ?? [];
    s.push(v);
    if (s.length > 90) s.shift();
    series.set(label, s);
  }
  lastScrape = {sums, t};
  let html = "";
  for (const [label, name] of plots) {
    const s = series.get(label), max = Math.max(1e-9, ...s), w = 200, h = 40;
    const pts = s.map((v, i) => (i * w / 89).toFixed(1) + "," + (h - 2 - v / max * (h - 4)).toFixed(1)).join(" ");
    const cur = s[s.length - 1];
    html += '<div class="plot" data-metric="' + name + '"><div>' + label + '</div><div class="v">' +
      (name === "partyd_storage_bytes" ? fmtBytes(cur) : Number.isInteger(cur) ? cur : cur.toFixed(1)) +
      '</div><svg viewBox="0 0 200 40" preserveAspectRatio="none"><polyline fill="none" stroke="#3b6fd8" stroke-width="1.5" points="' + pts + '"/></svg></div>';
  }
  $("plots").innerHTML = html;
}

async function tick() {
  try {
    await Promise.all([refreshRooms(), refreshMetrics(), refreshRoom()]);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("status").textContent = "error: " + e.message;
  }
}
tick();
setInterval(tick, 1000);
</script></body></html>
)HTML";

}  // namespace partyd::server
