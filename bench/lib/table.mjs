// What bench/compare shows for each workload, and the table of medians and ratios it prints.
// A ratio says how many times better a server is than `partykit dev` on that metric (above 1 is
// better, whichever way the metric points).

export const METRICS = {
  echo: [["p50_us", "lower"], ["p99_us", "lower"], ["p999_us", "lower"]],
  activate: [["p50_us", "lower"], ["p99_us", "lower"], ["per_s", "higher"], ["server_cpu_us_per_activation", "lower"]],
  broadcast: [["msgs_per_s", "higher"], ["p50_us", "lower"], ["p99_us", "lower"], ["p999_us", "lower"],
    ["server_cpu_us_per_delivery", "lower"], ["client_cpu_pct", "info"]],
  // *_ready: the same growth read before --settle (before hibernation, with bench/party-hibernate).
  idle: [["kib_per_conn", "lower"], ["kib_per_conn_ready", "info"], ["idle_cpu_pct", "lower"],
    ["connect_per_s", "higher"]],
  rooms: [["kib_per_room", "lower"], ["kib_per_room_ready", "info"], ["touch_per_s", "higher"], ["errors", "info"]],
  http: [["req_per_s", "higher"], ["p50_us", "lower"], ["p99_us", "lower"], ["server_cpu_us_per_req", "lower"],
    ["errors", "info"], ["warmup_errors", "info"]],
  // W7: latencies are put → ack (send to the sender's own copy of the broadcast).
  // warm_*: messages due after --warmup only.
  soak: [["p50_us", "lower"], ["p99_us", "lower"], ["p999_us", "lower"], ["warm_p50_us", "lower"], ["warm_p99_us", "lower"],
    ["warm_p999_us", "lower"], ["client_cpu_pct", "info"], ["msgs_per_s", "higher"],
    ["connects_per_s", "higher"], ["rss_warm_kib", "lower"], ["rss_drift_kib", "info"], ["rss_drift_pct", "info"],
    ["fds_warm", "info"], ["fds_end", "info"], ["connect_errors", "info"]],
};

export function median(values) {
  const sorted = values.filter((v) => typeof v === "number").sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatValue(value) {
  if (value === null || value === undefined) return "-";
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1e4) return String(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function ratio(value, base, better) {
  if (value === null || base === null || better === "info" || !value || !base) return null;
  return better === "higher" ? value / base : base / value;
}

// summarize groups result lines by phase and server, and takes the median of each metric.
// Returns [{ phase, rows: [{ server, rounds, values: {metric: median} }] }].
export function summarize(workload, lines, serverOrder) {
  const metrics = METRICS[workload] ?? [];
  const phases = [];
  for (const line of lines) {
    if (line.error) continue;
    if (!phases.includes(line.phase)) phases.push(line.phase);
  }
  return phases.map((phase) => ({
    phase,
    rows: serverOrder
      .map((server) => {
        const mine = lines.filter((l) => l.phase === phase && l.server === server && !l.error);
        if (mine.length === 0) return null;
        const values = {};
        for (const [key] of metrics) values[key] = median(mine.map((l) => l[key]));
        return { server, rounds: mine.length, values };
      })
      .filter(Boolean),
  }));
}

// renderTable returns the text table of one phase (markdown, so that it pastes into docs/). Ratios
// are against the row of `baseName` (default partykit).
export function renderTable(workload, phase, baseName = null) {
  const metrics = METRICS[workload] ?? [];
  const base = phase.rows.find((r) => r.server === (baseName ?? "partykit"));
  const header = ["server", "rounds", ...metrics.map(([k]) => k)];
  const rows = phase.rows.map((row) => [
    row.server,
    String(row.rounds),
    ...metrics.map(([key, better]) => {
      const value = row.values[key];
      const r = base && row !== base ? ratio(value, base.values[key], better) : null;
      return formatValue(value) + (r ? ` (×${r >= 10 ? r.toFixed(0) : r.toFixed(1)})` : "");
    }),
  ]);
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  const fmt = (cells) => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [fmt(header), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(fmt)].join("\n");
}

// renderSweep returns the table of a W3 open-loop sweep (result lines carrying sweep_rate): one
// row per rate, one cell per server with its medians "msgs/s · p50 · p99" (ms), "-" where the
// server had left the sweep, then the highest rate each server held with p99 under the limit.
export function renderSweep(lines, serverOrder, limitMs) {
  const rates = [...new Set(lines.map((l) => l.sweep_rate))].sort((a, b) => a - b);
  const ms = (us) => (us === null ? "-" : formatValue(us / 1000));
  const cells = new Map();  // "server rate" → { msgs, p50, p99, failed }
  for (const server of serverOrder) {
    for (const rate of rates) {
      const mine = lines.filter((l) => l.server === server && l.sweep_rate === rate);
      if (mine.length === 0) continue;
      const ok = mine.filter((l) => !l.error);
      cells.set(`${server} ${rate}`, { msgs: median(ok.map((l) => l.msgs_per_s)), p50: median(ok.map((l) => l.p50_us)),
        p99: median(ok.map((l) => l.p99_us)), failed: mine.length - ok.length, rounds: mine.length });
    }
  }
  const header = ["rate/room", ...serverOrder.map((s) => `${s}: msgs/s · p50 ms · p99 ms`)];
  const rows = rates.map((rate) => [String(rate), ...serverOrder.map((server) => {
    const c = cells.get(`${server} ${rate}`);
    if (!c) return "-";
    if (c.msgs === null) return `failed (${c.failed} of ${c.rounds})`;
    return `${formatValue(c.msgs)} · ${ms(c.p50)} · ${ms(c.p99)}` + (c.failed ? ` (${c.failed} failed)` : "");
  })]);
  const best = serverOrder.map((server) => {
    const under = rates.filter((rate) => {
      const c = cells.get(`${server} ${rate}`);
      return c && c.p99 !== null && !c.failed && c.p99 <= limitMs * 1000;
    });
    if (under.length === 0) return `${server}: none`;
    const top = under[under.length - 1];
    return `${server}: ${top}/room (${formatValue(cells.get(`${server} ${top}`).msgs)} msgs/s)`;
  });
  const widths = header.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  const fmt = (row) => "| " + row.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [fmt(header), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.map(fmt), "",
    `Highest rate with p99 under ${limitMs} ms: ${best.join("; ")}`].join("\n");
}
