// The conformance party: POST /parties/main/<room>/<table> with a web-platform-tests data table
// (tests/conformance/data/<file>.json) as the body runs every case of that table in party code
// and answers {total, passed, failures: [{name, message}]}. Each case is one WPT subtest, checked
// the way the WPT file that reads the table checks it (named above each runner); only what needs
// a DOM (<a>/<area> elements) is left out.

class AssertionError extends Error {}

function show(value) {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function equal(actual, expected, what) {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${what}: got ${show(actual)}, want ${show(expected)}`);
  }
}

// WPT's assert_object_equals: the same own enumerable keys, values equal (objects recursively).
function objectEqual(actual, expected, what) {
  if (typeof expected !== "object" || expected === null) {
    equal(actual, expected, what);
    return;
  }
  if (typeof actual !== "object" || actual === null) {
    throw new AssertionError(`${what}: got ${show(actual)}, want an object ${show(expected)}`);
  }
  for (const key of Object.keys(actual)) {
    if (!(key in expected)) throw new AssertionError(`${what}: unexpected property ${key}`);
  }
  for (const key of Object.keys(expected)) {
    if (!(key in actual)) throw new AssertionError(`${what}: missing property ${key}`);
    objectEqual(actual[key], expected[key], `${what}.${key}`);
  }
}

// The call must throw an instance of `ctor` (a TypeError, ...).
function throwsJs(ctor, call, what) {
  try {
    call();
  } catch (e) {
    if (e instanceof ctor) return;
    throw new AssertionError(`${what}: threw ${e?.name} (${e?.message}), want ${ctor.name}`);
  }
  throw new AssertionError(`${what}: did not throw, want ${ctor.name}`);
}

function throwsDom(name, call, what) {
  try {
    call();
  } catch (e) {
    if (e?.name === name && e instanceof DOMException) return;
    throw new AssertionError(`${what}: threw ${e?.name} (${e?.message}), want DOMException ${name}`);
  }
  throw new AssertionError(`${what}: did not throw, want ${name}`);
}

// ---- the tables ---------------------------------------------------------------------------
// Each runner returns a list of [name, check] where check() throws on failure (may be async).

const URL_PARTS = ["href", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search"];

// url/url-constructor.any.js
function urlCases(table) {
  const cases = [];
  for (const expected of table) {
    if (typeof expected === "string") continue;
    const base = expected.base !== null ? expected.base : undefined;
    const name = `Parsing: <${expected.input}> ${base ? `against <${base}>` : "without base"}`;
    cases.push([name, () => {
      if (expected.failure) {
        throwsJs(TypeError, () => new URL(expected.input, base), "new URL()");
        return;
      }
      const url = new URL(expected.input, base);
      for (const part of URL_PARTS) equal(url[part], expected[part], part);
      if ("searchParams" in expected) equal(url.searchParams.toString(), expected.searchParams, "searchParams");
      equal(url.hash, expected.hash, "hash");
    }]);
  }
  return cases;
}

// url/url-origin.any.js
function urlOriginCases(table) {
  const cases = [];
  for (const expected of table) {
    if (typeof expected === "string" || !("origin" in expected)) continue;
    const base = expected.base !== null ? expected.base : undefined;
    cases.push([`Origin parsing: <${expected.input}> ${base ? `against <${base}>` : "without base"}`, () => {
      equal(new URL(expected.input, base).origin, expected.origin, "origin");
    }]);
  }
  return cases;
}

// url/url-setters.any.js
function setterCases(table) {
  const cases = [];
  for (const [attribute, list] of Object.entries(table)) {
    if (attribute === "comment") continue;
    for (const c of list) {
      let name = `Setting <${c.href}>.${attribute} = '${c.new_value}'`;
      if ("comment" in c) name += ` ${c.comment}`;
      cases.push([name, () => {
        const url = new URL(c.href);
        url[attribute] = c.new_value;
        for (const [part, value] of Object.entries(c.expected)) equal(url[part], value, part);
      }]);
    }
  }
  return cases;
}

// url/toascii.window.js (the URL subtests; the <a> and <area> ones need a DOM)
function toasciiCases(table) {
  const cases = [];
  for (const t of table) {
    if (typeof t === "string") continue;
    cases.push([`${t.input} (using URL)`, () => {
      if (t.output === null) {
        throwsJs(TypeError, () => new URL(`https://${t.input}/x`), "new URL()");
        return;
      }
      const url = new URL(`https://${t.input}/x`);
      equal(url.host, t.output, "host");
      equal(url.hostname, t.output, "hostname");
      equal(url.pathname, "/x", "pathname");
      equal(url.href, `https://${t.output}/x`, "href");
    }]);
    for (const setter of ["host", "hostname"]) {
      cases.push([`${t.input} (using URL.${setter})`, () => {
        const url = new URL("https://x/x");
        url[setter] = t.input;
        equal(url[setter], t.output !== null ? t.output : "x", setter);
      }]);
    }
  }
  return cases;
}

// url/urlencoded-parser.any.js. WPT builds the Request on about:blank with method LADIDA; an
// http URL and POST keep the case about the parser (the charset parameters stay: they are ignored).
function urlencodedCases(table) {
  const cases = [];
  const sameItems = (list, output, what) => {
    let i = 0;
    for (const item of list) {
      const want = output[i++];
      if (!Array.isArray(want)) throw new AssertionError(`${what}: extra item ${show(item)}`);
      equal(item.length, want.length, `${what} item ${i} length`);
      item.forEach((v, j) => equal(v, want[j], `${what} item ${i}[${j}]`));
    }
  };
  for (const t of table) {
    cases.push([`URLSearchParams constructed with: ${t.input}`, () => {
      sameItems(new URLSearchParams(t.input), t.output, "URLSearchParams");
    }]);
    cases.push([`request.formData() with input: ${t.input}`, async () => {
      const request = new Request("http://example.com/", {
        body: t.input,
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded;charset=windows-1252" },
      });
      sameItems(await request.formData(), t.output, "request.formData()");
    }]);
    cases.push([`response.formData() with input: ${t.input}`, async () => {
      const response = new Response(t.input, {
        headers: { "Content-Type": "application/x-www-form-urlencoded;charset=shift_jis" },
      });
      sameItems(await response.formData(), t.output, "response.formData()");
    }]);
  }
  return cases;
}

// urlpattern/resources/urlpattern-test.js (runTests)
const COMPONENTS = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
const EARLIER_COMPONENTS = {
  protocol: [],
  hostname: ["protocol"],
  port: ["protocol", "hostname"],
  username: [],
  password: [],
  pathname: ["protocol", "hostname", "port"],
  search: ["protocol", "hostname", "port", "pathname"],
  hash: ["protocol", "hostname", "port", "pathname", "search"],
};

function expectedComponent(entry, component) {
  const explicit = entry.expected_obj?.[component];
  if (explicit !== undefined && explicit !== null) return explicit;
  const first = entry.pattern[0];
  let baseURL = null;
  if (entry.pattern.length > 0 && first?.baseURL) baseURL = new URL(first.baseURL);
  else if (entry.pattern.length > 1 && typeof entry.pattern[1] === "string") baseURL = new URL(entry.pattern[1]);
  if (entry.exactly_empty_components?.includes(component)) return "";
  if (typeof first === "object" && first[component]) return first[component];
  if (typeof first === "object" && EARLIER_COMPONENTS[component].some((c) => c in first)) return "*";
  if (baseURL && component !== "username" && component !== "password") {
    let value = baseURL[component];
    if (component === "protocol") value = value.slice(0, -1);
    else if (component === "search" || component === "hash") value = value.slice(1);
    return value;
  }
  return "*";
}

function urlpatternCases(table) {
  return table.map((entry) => [
    `Pattern: ${JSON.stringify(entry.pattern)} Inputs: ${JSON.stringify(entry.inputs)}`,
    () => {
      if (typeof URLPattern !== "function") throw new AssertionError("URLPattern is not defined");
      if (entry.expected_obj === "error") {
        throwsJs(TypeError, () => new URLPattern(...entry.pattern), "URLPattern()");
        return;
      }
      const pattern = new URLPattern(...entry.pattern);
      for (const component of COMPONENTS) {
        equal(pattern[component], expectedComponent(entry, component), `pattern.${component}`);
      }
      if (entry.expected_match === "error") {
        throwsJs(TypeError, () => pattern.test(...entry.inputs), "test()");
        throwsJs(TypeError, () => pattern.exec(...entry.inputs), "exec()");
        return;
      }
      equal(pattern.test(...entry.inputs), !!entry.expected_match, "test()");
      const result = pattern.exec(...entry.inputs);
      if (!entry.expected_match || typeof entry.expected_match !== "object") {
        equal(result, entry.expected_match, "exec()");
        return;
      }
      if (result === null) throw new AssertionError("exec(): got null, want a match");
      objectEqual(result.inputs, entry.expected_match.inputs ?? entry.inputs, "exec().inputs");
      for (const component of COMPONENTS) {
        let want = entry.expected_match[component];
        if (!want) {
          want = { input: "", groups: {} };
          if (!entry.exactly_empty_components?.includes(component)) want.groups["0"] = "";
        }
        const groups = {};
        for (const [k, v] of Object.entries(want.groups)) groups[k] = v === null ? undefined : v;
        objectEqual(result[component], { ...want, groups }, `exec().${component}`);
      }
    },
  ]);
}

// encoding/textdecoder-labels.any.js, and for the "replacement" labels encoding/replacement-
// encodings.any.js's "constructor throws RangeError".
function encodingCases(table) {
  const cases = [];
  const whitespace = [" ", "\t", "\n", "\f", "\r"];
  for (const section of table) {
    for (const encoding of section.encodings) {
      for (const label of encoding.labels) {
        if (encoding.name === "replacement") {
          cases.push([`${label} => replacement (RangeError)`, () => {
            throwsJs(RangeError, () => new TextDecoder(label), `new TextDecoder(${show(label)})`);
          }]);
          continue;
        }
        const want = encoding.name.toLowerCase();
        cases.push([`${label} => ${encoding.name}`, () => {
          equal(new TextDecoder(label).encoding, want, `new TextDecoder(${show(label)}).encoding`);
          equal(new TextDecoder(label.toUpperCase()).encoding, want, "upper-case label");
          for (const ws of whitespace) {
            for (const padded of [ws + label, label + ws, ws + label + ws]) {
              equal(new TextDecoder(padded).encoding, want, `new TextDecoder(${show(padded)}).encoding`);
            }
          }
        }]);
      }
    }
  }
  return cases;
}

// html/webappapis/atob/base64.any.js
function base64Cases(table) {
  return table.map(([input, output]) => [`atob(${show(input)})`, () => {
    if (output === null) {
      throwsDom("InvalidCharacterError", () => atob(input), "atob()");
      return;
    }
    const result = atob(input);
    equal(result.length, output.length, "length");
    for (let i = 0; i < output.length; i++) equal(result.charCodeAt(i), output[i], `char ${i}`);
  }]);
}

const TABLES = {
  url: urlCases,
  "url-origin": urlOriginCases,
  "url-javascript-only": urlCases,
  setters: setterCases,
  toascii: toasciiCases,
  urlencoded: urlencodedCases,
  urlpattern: urlpatternCases,
  encodings: encodingCases,
  base64: base64Cases,
};

async function run(tableName, table, planOnly) {
  const cases = TABLES[tableName](table);
  if (planOnly) return { total: cases.length };
  const failures = [];
  for (const [name, check] of cases) {
    try {
      await check();
    } catch (e) {
      const message = e instanceof AssertionError ? e.message : `threw ${e?.name}: ${e?.message}`;
      failures.push({ name, message });
    }
  }
  return { total: cases.length, passed: cases.length - failures.length, failures };
}

export default class Conformance {
  constructor(room) {
    this.room = room;
  }

  async onRequest(req) {
    const tableName = new URL(req.url).pathname.split("/")[4] ?? "";
    if (!(tableName in TABLES)) return new Response(`no table ${tableName}`, { status: 404 });
    if (req.method !== "POST") return new Response("POST the table as the body", { status: 405 });
    let table;
    try {
      table = JSON.parse(await req.text());
    } catch (e) {
      return new Response(`the body is not JSON: ${e.message}`, { status: 400 });
    }
    // ?start=&count= runs a slice of an array table (to find a case that takes the server down);
    // ?plan=1 only counts the cases.
    const query = new URL(req.url).searchParams;
    if (Array.isArray(table) && query.has("start")) {
      const start = Number(query.get("start"));
      table = table.slice(start, start + Number(query.get("count") ?? table.length));
    }
    return Response.json(await run(tableName, table, query.has("plan")));
  }
}
