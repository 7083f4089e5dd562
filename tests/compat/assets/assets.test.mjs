// Compat corpus, feature 5: static assets (PARTYKIT-API.md §2 context.assets, §5a, §6a serve).
// `serve.path` files with their content types, index.html for directories, 404.html for misses,
// `serve.build` output, `serve.singlePageApp` navigations, conditional requests, and assets read
// from party code (room.context.assets) and from the worker hooks (lobby.assets).
import assert from "node:assert/strict";
import nodeHttp from "node:http";
import { after, before, describe, test } from "node:test";
import { IS_PARTYKIT, http, projectDir, startServer } from "../../harness.mjs";

const INDEX = "<!doctype html><title>index</title><p>static index</p>\n";
const NOT_FOUND = "<!doctype html><title>404</title><p>asset not found</p>\n";

let server;
before(async () => {
  server = await startServer(projectDir(import.meta.url));
});
after(async () => {
  await server?.stop();
});

// A GET through node:http, which (unlike fetch) sends Sec-Fetch-Mode as given.
function rawGet(urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.get(`http://${server.host}${urlPath}`, { headers, timeout: 5000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, type: res.headers["content-type"], text }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on("error", reject);
  });
}

describe("serve.path", { timeout: 30_000 }, () => {
  test("files are served with their content types and Access-Control-Allow-Origin: *", async () => {
    const cases = [
      ["/", "text/html; charset=utf-8", INDEX],
      ["/style.css", "text/css; charset=utf-8", "body { color: red; }\n"],
      ["/data.json", "application/json; charset=utf-8", '{ "asset": true }\n'],
      ["/img.svg", "image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg"/>\n'],
    ];
    for (const [p, type, body] of cases) {
      const r = await http(server.host, p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get("content-type"), type, p);
      assert.equal(r.headers.get("access-control-allow-origin"), "*", p);
      assert.equal(r.text, body, p);
    }
  });

  test(".js is text/javascript", async () => {
    assert.equal((await http(server.host, "/plain.js")).headers.get("content-type"), "text/javascript; charset=utf-8");
  });

  // A deliberate difference (docs/compatibility.md): partykit dev's asset server has no type for
  // .txt; partyd says text/plain, as a deployed site would, so browsers show the file.
  test(".txt: application/octet-stream on partykit dev, text/plain on partyd", async () => {
    const type = (await http(server.host, "/a.txt")).headers.get("content-type");
    assert.equal(type, IS_PARTYKIT ? "application/octet-stream" : "text/plain; charset=utf-8");
  });

  test("a directory with a slash serves its index.html; without the slash it is a 404", async () => {
    assert.equal((await http(server.host, "/sub/")).text, "nested index\n");
    const bare = await http(server.host, "/sub");
    assert.equal(bare.status, 404);
    assert.equal(bare.text, NOT_FOUND);
  });

  test("paths are percent-decoded; HEAD has no body; other methods fall through to 404", async () => {
    assert.equal((await http(server.host, "/a%20b.txt")).text, "with space\n");
    const head = await http(server.host, "/a.txt", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
    const post = await http(server.host, "/a.txt", { method: "POST", body: "x" });
    assert.equal(post.status, 404);
    assert.equal(post.text, NOT_FOUND);
  });

  test("a miss serves 404.html with status 404", async () => {
    for (const p of ["/missing", "/missing.png", "/parties/main/"]) {
      const r = await http(server.host, p);
      assert.equal(r.status, 404, p);
      assert.equal(r.text, NOT_FOUND, p);
    }
  });

  test("a conditional GET with an ETag that does not match gets the full answer", async () => {
    const r = await http(server.host, "/style.css", { headers: { "if-none-match": '"not-the-etag"' } });
    assert.equal(r.status, 200);
    assert.equal(r.text, "body { color: red; }\n");
  });

  test(
    "ETag and 304 Not Modified",
    { skip: IS_PARTYKIT && "partykit dev's asset server (esbuild) sends no ETag; deployed PartyKit does" },
    async () => {
      const first = await http(server.host, "/style.css");
      const etag = first.headers.get("etag");
      assert.match(etag ?? "", /^(W\/)?".+"$/);
      const again = await http(server.host, "/style.css", { headers: { "if-none-match": etag } });
      assert.equal(again.status, 304);
      assert.equal(again.text, "");
      assert.equal(again.headers.get("etag"), etag);
    },
  );
});

describe("serve.build and serve.singlePageApp", { timeout: 30_000 }, () => {
  test("serve.build bundles its entry into <serve.path>/dist before serving", async () => {
    const r = await http(server.host, "/dist/client.js");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /javascript/);
    assert.match(r.text, /var greeting = "built by serve\.build";/);
    assert.match(r.text, /document\.title = greeting;/);
  });

  test("with singlePageApp, a navigation (Sec-Fetch-Mode: navigate) to a miss gets index.html", async () => {
    for (const p of ["/missing", "/deep/route", "/page.html", "/missing.png", "/sub", "/parties/main/"]) {
      const r = await rawGet(p, { "sec-fetch-mode": "navigate" });
      assert.equal(r.status, 200, p);
      assert.equal(r.text, INDEX, p);
    }
  });

  test("a miss that is not a navigation still gets 404.html; existing files are served as they are", async () => {
    const miss = await rawGet("/deep/route");
    assert.equal(miss.status, 404);
    assert.equal(miss.text, NOT_FOUND);
    const css = await rawGet("/style.css", { "sec-fetch-mode": "navigate" });
    assert.equal(css.text, "body { color: red; }\n");
  });
});

describe("assets from code", { timeout: 30_000 }, () => {
  test("room.context.assets.fetch serves an asset (serve.build output too), null for a miss", async () => {
    const r = (await http(server.host, "/parties/main/a1")).json();
    assert.deepEqual(r, {
      hit: { status: 200, text: "plain asset\n" },
      json: { status: 200, text: '{ "asset": true }\n' },
      built: true,
      miss: null,
      badPath: r.badPath,
    });
  });

  test(
    "room.context.assets.fetch of a path without a leading / throws 'Path must start with /'",
    async () => {
      const r = (await http(server.host, "/parties/main/a2")).json();
      assert.equal(r.badPath, "Path must start with /");
    },
  );

  test("lobby.assets.fetch in onFetch and in onBeforeRequest", async () => {
    assert.deepEqual((await http(server.host, "/via-lobby")).json(), {
      hit: { status: 200, text: "plain asset\n" },
      miss: null,
    });
    assert.deepEqual((await http(server.host, "/parties/main/r/lobby-assets")).json(), {
      index: { status: 200, text: "nested index\n" },
    });
  });
});
