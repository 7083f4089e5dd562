// The conformance runner: starts a server on tests/conformance/project (partyd, or `partykit dev`
// with TARGET=partykit, or the server at HOST=), posts each web-platform-tests table of data/ to
// the party, which runs the table's cases in party code, and prints per-table pass counts.
//
//   node tests/conformance/conformance.mjs                 counts, one line per table
//   node tests/conformance/conformance.mjs --check         also fail (exit 1) when a table passes
//                                                          fewer cases than expected.json's floor
//   node tests/conformance/conformance.mjs --failures      also list every failing case
//   node tests/conformance/conformance.mjs --record        (TARGET=partykit) write the counts into
//                                                          expected.json as the reference's
//   node tests/conformance/conformance.mjs url toascii     only these tables
//
// expected.json holds, per table: `total` cases, `partykit` (what `partykit dev` 0.0.115, i.e.
// workerd 1.20240718, passes) and `partyd`, the floor partyd must reach (`--check`): what partyd
// passed when the floor was last raised, never below the reference's count.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TARGET, http, startServer } from "../harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXPECTED_FILE = path.join(HERE, "expected.json");

// table name (as the party knows it) -> data file
const TABLES = {
  url: "urltestdata.json",
  "url-origin": "urltestdata.json",
  "url-javascript-only": "urltestdata-javascript-only.json",
  setters: "setters_tests.json",
  toascii: "toascii.json",
  urlencoded: "urlencoded-parser-data.json",
  urlpattern: "urlpatterntestdata.json",
  encodings: "encodings.json",
  base64: "base64.json",
};

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
for (const flag of flags) {
  if (!["--check", "--failures", "--record"].includes(flag)) {
    console.error(`unknown flag ${flag}`);
    process.exit(2);
  }
}
const chosen = args.filter((a) => !a.startsWith("--"));
for (const name of chosen) {
  if (!(name in TABLES)) {
    console.error(`unknown table ${name} (tables: ${Object.keys(TABLES).join(", ")})`);
    process.exit(2);
  }
}
const tableNames = chosen.length > 0 ? chosen : Object.keys(TABLES);
if (flags.has("--record") && TARGET !== "partykit") {
  console.error("--record writes the reference's counts: run it with TARGET=partykit");
  process.exit(2);
}

async function post(server, name, body, query = "") {
  const r = await http(server.host, `/parties/main/conformance/${name}${query}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    timeout: 60_000,
  });
  if (r.status !== 200) throw new Error(`table ${name}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
  return r.json();
}

// Runs one table. A case that takes the server down (workerd crashes on one URLPattern case) must
// not hide the others: when the whole table fails, the runner restarts the server and runs the
// table's entries one at a time, counting the cases of an entry that took the server down again
// as failed.
async function runTable(server, name) {
  const body = fs.readFileSync(path.join(HERE, "data", TABLES[name]));
  try {
    return await post(server, name, body);
  } catch (e) {
    const entries = JSON.parse(body);
    if (server.external || !Array.isArray(entries)) throw e;
    console.error(`table ${name}: ${e.message}; restarting the server and running it entry by entry`);
  }
  await server.restart();
  const total = { total: 0, passed: 0, failures: [] };
  const entries = JSON.parse(body).length;
  for (let i = 0; i < entries; i++) {
    let result;
    try {
      result = await post(server, name, body, `?start=${i}&count=1`);
    } catch (e) {
      await server.restart();
      const { total: cases } = await post(server, name, body, `?start=${i}&count=1&plan=1`);
      const entry = JSON.stringify(JSON.parse(body)[i]);
      result = { total: cases, passed: 0, failures: [{ name: `entry ${i}: ${entry}`, message: `took the server down (${e.message})` }] };
      for (let c = 1; c < cases; c++) result.failures.push({ name: `entry ${i}, case ${c + 1}`, message: "took the server down" });
    }
    total.total += result.total;
    total.passed += result.passed;
    total.failures.push(...result.failures);
  }
  return total;
}

const expected = JSON.parse(fs.readFileSync(EXPECTED_FILE, "utf8"));
const server = await startServer(path.join(HERE, "project"));
const results = {};
let exitCode = 0;
try {
  for (const name of tableNames) results[name] = await runTable(server, name);
} catch (e) {
  console.error(e.message);
  console.error(server.logs?.().slice(-4000));
  exitCode = 1;
} finally {
  await server.stop();
}

const pad = (text, n) => String(text).padEnd(n);
console.log(`conformance on ${TARGET}`);
console.log(`${pad("table", 22)}${pad("passed", 9)}${pad("total", 8)}${pad("partykit", 10)}floor`);
for (const [name, result] of Object.entries(results)) {
  const want = expected[name] ?? {};
  let mark = "";
  if (flags.has("--check")) {
    if (want.partyd === undefined) {
      mark = "  FAIL: no floor in expected.json";
      exitCode = 1;
    } else if (result.passed < want.partyd) {
      mark = `  FAIL: ${want.partyd - result.passed} below the floor`;
      exitCode = 1;
    }
  }
  console.log(
    `${pad(name, 22)}${pad(result.passed, 9)}${pad(result.total, 8)}${pad(want.partykit ?? "-", 10)}` +
      `${want.partyd ?? "-"}${mark}`,
  );
  if (want.total !== undefined && want.total !== result.total) {
    console.log(`  (expected.json says ${want.total} cases: the table or its runner changed)`);
  }
}
if (flags.has("--failures")) {
  for (const [name, result] of Object.entries(results)) {
    for (const f of result.failures) console.log(`[${name}] ${f.name}\n    ${f.message}`);
  }
}
if (flags.has("--record") && exitCode === 0) {
  for (const [name, result] of Object.entries(results)) {
    expected[name] = { ...expected[name], total: result.total, partykit: result.passed };
  }
  fs.writeFileSync(EXPECTED_FILE, JSON.stringify(expected, null, 2) + "\n");
  console.log(`recorded the reference's counts in ${path.relative(process.cwd(), EXPECTED_FILE)}`);
}
process.exit(exitCode);
