// HTMLRewriter (src/api/js/html_rewriter.js over the html-rewriter-wasm package), run for real:
// the built partyd ($PARTYD, default build/partyd) serves html_rewriter_fixture/, whose room runs
// each case and answers with the rewritten body and what the handlers saw. Element, text, comment
// and document handlers; attributes; before/after/prepend/append/replace/remove/setInnerContent;
// async handlers (also several transforms at once); a handler that throws or rejects; bad input.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { IS_PARTYKIT, http, startServer } from "../harness.mjs";

const fixture = fileURLToPath(new URL("./html_rewriter_fixture", import.meta.url));

let server;
before(async () => {
  server = await startServer(fixture);
});
after(async () => {
  await server?.stop();
});

let room = 0;
async function run(which) {
  const r = await http(server.host, `/parties/main/r${++room}/${which}`);
  assert.equal(r.status, 200, r.text);
  const body = r.json();
  assert.equal(body.error, undefined, body.error);
  return body;
}

describe("HTMLRewriter", { timeout: 30_000 }, () => {
  test("element handlers: tag name, attributes read, listed, set and removed; setInnerContent as HTML", async () => {
    assert.deepEqual(await run("elements"), {
      body: '<div id="b" class="c"><span><em>new</em></span></div><img src="x.png" alt="a &quot;quoted&quot; <alt>">',
      seen: ["div", "a", true, false, "id=a,class=c,data-x=1", "x.png", false],
      kept: "yes",
    });
  });

  test("before / after / prepend / append / replace / remove / removeAndKeepContent, text escaped and HTML", async () => {
    assert.deepEqual(await run("content"), {
      body: "<hr><p>[one]</p>&lt;after&gt;<hr><p>[two]</p>&lt;after&gt;<s>replaced</s>five",
      seen: [],
      kept: "yes",
    });
  });

  test("text chunks, comments (read, changed, removed), doctype and end handlers", async () => {
    assert.deepEqual(await run("textAndComments"), {
      body: "<!DOCTYPE html><p>hello <!-- changed -->WORLD</p><!-- end -->",
      seen: ["doctype:html", "text:hello ", "comment: c1 ", "text:world"],
      kept: "yes",
    });
  });

  test("async handlers and an async end-tag handler, in document order", async () => {
    assert.deepEqual(await run("asyncHandlers"), {
      body: '<ul><li data-waited="yes">1</li>!<li data-waited="yes">2</li>!<li data-waited="yes">3</li>!</ul>',
      seen: ["li", "li", "li"],
      kept: "yes",
    });
  });

  test("four transforms with async handlers at once each get their own output", async () => {
    assert.deepEqual(await run("concurrent"), {
      bodies: ["<p>p0</p><p>p0</p>", "<p>p1</p><p>p1</p>", "<p>p2</p><p>p2</p>", "<p>p3</p><p>p3</p>"],
    });
  });

  test("a handler that throws or rejects fails the body's read with its error; the next transform works", async () => {
    assert.deepEqual(await run("throwing"), {
      sync: "RangeError: sync handler",
      rejected: "TypeError: async handler",
      after: "<p>fine</p>",
    });
  });

  test("a bad selector and a non-Response are TypeErrors; malformed HTML passes through", async () => {
    const r = await run("badInput");
    assert.match(r.selector, /^TypeError: .*selector/i);
    assert.equal(r.notResponse.split(":")[0], "TypeError");
    assert.equal(r.malformed, "<div><p seen=\"1\">x<div>y</span></b>z</p>&bogus; <<>> <a href='1>q");
  });

  test("a body that arrives in pieces streams out rewritten", async () => {
    assert.deepEqual(await run("streamed"), { body: '<p class="y">hello</p><p>two</p>' });
  });

  test("many transforms in a row do not leak: the room still answers", async () => {
    for (let i = 0; i < 20; i++) await run(i % 2 ? "throwing" : "asyncHandlers");
  });
});

describe("HTMLRewriter and a handler stopped at --cpu-limit", { skip: IS_PARTYKIT && "partyd's flag", timeout: 30_000 }, () => {
  let limited;
  before(async () => {
    // One shard, so that the stopped write and the later transforms share a WebAssembly instance.
    limited = await startServer(fixture, { args: ["--cpu-limit", "300", "--threads", "1"] });
  });
  after(async () => {
    await limited?.stop();
  });

  test("a transform whose handler is stopped does not hold up the shard's later transforms", async () => {
    // The stopped write runs in a promise job, outside the room's event: partyd stops it and
    // resets no room, so that request gets no answer (what partyd does for any run stopped there).
    await assert.rejects(http(limited.host, "/parties/main/spin/spin", { timeout: 2_000 }));
    assert.match(limited.logs(), /ran longer than 300 ms and was stopped/);
    for (const which of ["elements", "asyncHandlers", "concurrent", "throwing"]) {
      const ok = await http(limited.host, `/parties/main/after/${which}`);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json().error, undefined);
    }
  });
});
