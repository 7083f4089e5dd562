// request.cf from `--geoip` (issue 13 item 6): the client address is the socket's peer, or the
// right-most untrusted X-Forwarded-For entry when the peer is a `--trusted-proxy`; it is looked up
// in MaxMind-format databases written by tests/fixtures/mmdb.mjs (GEO_FIXTURE, ASN_FIXTURE), and
// request.cf carries Cloudflare's field names in onRequest, onConnect's ctx.request and the worker
// hooks. Without the flags, request.cf is partykit dev's placeholder and the headers pass as sent.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { IS_PARTYKIT, connect, http, startServer, tmpDir } from "../harness.mjs";
import { ASN_FIXTURE, GEO_FIXTURE, buildMmdb } from "../fixtures/mmdb.mjs";

const dir = tmpDir("partyd-geoip-");
const geoDb = path.join(dir, "geo.mmdb");
const asnDb = path.join(dir, "asn.mmdb");
fs.writeFileSync(geoDb, buildMmdb(GEO_FIXTURE, { databaseType: "partyd-test-City" }));
fs.writeFileSync(asnDb, buildMmdb(ASN_FIXTURE, { databaseType: "partyd-test-ASN" }));
const geoArgs = ["--geoip", geoDb, "--geoip", asnDb];

// partykit dev's placeholder (src/api/js/cf.js), the visitor from Austin.
const AUSTIN = {
  asn: 395747, asOrganization: "", colo: "DFW", city: "Austin", region: "Texas", regionCode: "TX",
  metroCode: "635", postalCode: "78701", country: "US", continent: "NA", timezone: "America/Chicago",
  latitude: "30.27130", longitude: "-97.74260",
};
const GEO_KEYS = ["country", "isEUCountry", "continent", "city", "region", "regionCode", "metroCode",
  "postalCode", "latitude", "longitude", "timezone"];
const WELLINGTON = {
  country: "NZ", continent: "OC", city: "Wellington", region: "Wellington Region",
  regionCode: "WGN", postalCode: "6011", latitude: "-41.28660", longitude: "174.77560",
  timezone: "Pacific/Auckland", asn: 64500, asOrganization: 'Loopback "Test" Networks',
};
const SAN_FRANCISCO = {
  country: "US", continent: "NA", city: "San Francisco", region: "California", regionCode: "CA",
  metroCode: "807", postalCode: "94103", latitude: "37.77490", longitude: "-122.41940",
  timezone: "America/Los_Angeles", asn: 64501, asOrganization: "Example Transit",
};

// cf has exactly `expected`'s geographic fields (the others left out), its asn fields, and the
// placeholder's non-geographic ones.
function assertGeo(cf, expected) {
  for (const k of GEO_KEYS) {
    if (k in expected) assert.equal(cf[k], expected[k], k);
    else assert.ok(!(k in cf), `${k} should be left out, is ${JSON.stringify(cf[k])}`);
  }
  assert.equal(cf.asn, expected.asn);
  assert.equal(cf.asOrganization, expected.asOrganization);
  assert.equal(cf.colo, "DFW");
  assert.equal(cf.httpProtocol, "HTTP/1.1");
  assert.equal(cf.tlsClientAuth.certPresented, "0");
}

function assertPlaceholder(cf) {
  for (const [k, v] of Object.entries(AUSTIN)) assert.equal(cf[k], v, k);
  assert.ok(!("isEUCountry" in cf));
}

const forged = { "x-forwarded-for": "192.0.2.7", "cf-connecting-ip": "192.0.2.8", "x-real-ip": "192.0.2.9" };

describe("request.cf without --geoip", { timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip");
  });
  after(async () => {
    await server?.stop();
  });

  test("is partykit dev's placeholder, and the client's headers pass as sent", async () => {
    const r = (await http(server.host, "/parties/main/a", { headers: forged })).json();
    assertPlaceholder(r.cf);
    assert.equal(r.frozen, true);
    // As partykit dev (0.0.115) does: it adds no address header and keeps the client's.
    assert.deepEqual(r.headers, forged);
    const c = await connect(server.host, "/parties/main/a");
    const w = await c.nextJson();
    assertPlaceholder(w.cf);
    assert.equal(w.headers["cf-connecting-ip"], null);
    await c.closeAndWait();
  });
});

describe("request.cf with --geoip", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", { args: geoArgs });
  });
  after(async () => {
    await server?.stop();
  });

  test("onRequest sees the socket peer's geography (127.0.0.1)", async () => {
    const r = (await http(server.host, "/parties/main/a")).json();
    assertGeo(r.cf, WELLINGTON);
    assert.equal(r.frozen, true);
    assert.deepEqual(r.headers, {
      "cf-connecting-ip": "127.0.0.1", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1",
    });
  });

  test("a client's own X-Forwarded-For and cf-connecting-ip are not believed, and overwritten", async () => {
    const r = (await http(server.host, "/parties/main/a", { headers: forged })).json();
    assertGeo(r.cf, WELLINGTON);
    assert.deepEqual(r.headers, {
      "cf-connecting-ip": "127.0.0.1", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1",
    });
  });

  test("onConnect's ctx.request has it too", async () => {
    const c = await connect(server.host, "/parties/main/ws", { headers: forged });
    const w = await c.nextJson();
    assertGeo(w.cf, WELLINGTON);
    assert.equal(w.headers["cf-connecting-ip"], "127.0.0.1");
    await c.closeAndWait();
  });

  test("the worker hooks (onBeforeRequest, and onBeforeConnect's room) have it", async () => {
    const r = (await http(server.host, "/parties/gate/g", { headers: forged })).json();
    assert.equal(r.edge, true);
    assertGeo(r.cf, WELLINGTON);
    const c = await connect(server.host, "/parties/gate/g", { headers: forged });
    const w = await c.nextJson();
    assertGeo(w.cf, WELLINGTON);
    await c.closeAndWait();
  });
});

describe("request.cf with --geoip and --trusted-proxy", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", { args: [...geoArgs, "--trusted-proxy", "127.0.0.0/8",
                                                 "--trusted-proxy", "fd00::/8"] });
  });
  after(async () => {
    await server?.stop();
  });
  const get = async (xff, room = "a") =>
    (await http(server.host, `/parties/main/${room}`, { headers: xff === undefined ? {} : { "x-forwarded-for": xff } })).json();

  test("the proxy's X-Forwarded-For names the client: its right-most untrusted entry", async () => {
    let r = await get("192.0.2.7");
    assertGeo(r.cf, SAN_FRANCISCO);
    assert.equal(r.headers["cf-connecting-ip"], "192.0.2.7");
    assert.equal(r.headers["x-real-ip"], "192.0.2.7");
    assert.equal(r.headers["x-forwarded-for"], "192.0.2.7", "a trusted proxy's header is kept");
    // What the client forged is on the left; the proxies appended the rest.
    r = await get("203.0.113.1, 192.0.2.7, 127.0.0.5, fd00::3");
    assertGeo(r.cf, SAN_FRANCISCO);
    assert.equal(r.headers["cf-connecting-ip"], "192.0.2.7");
  });

  test("fields the database lacks are left out; the ASN database adds asn", async () => {
    const r = await get("203.0.113.9");
    assertGeo(r.cf, { country: "AU", asn: 64502, asOrganization: "Documentation AS" });
  });

  test("an IPv6 client, in the EU, with no AS data (asn keeps the placeholder's)", async () => {
    const r = await get("::1");
    assertGeo(r.cf, {
      country: "DE", isEUCountry: "1", continent: "EU", city: "Berlin", region: "Land Berlin",
      regionCode: "BE", postalCode: "10117", latitude: "52.52000", longitude: "13.40500",
      timezone: "Europe/Berlin", asn: 395747, asOrganization: "",
    });
    assert.equal(r.headers["cf-connecting-ip"], "::1");
  });

  test("an address the database does not know keeps the placeholder", async () => {
    assertPlaceholder((await get("10.9.8.7")).cf);
    assertPlaceholder((await get("2001:db8::1")).cf);
  });

  test("no X-Forwarded-For, or garbage in it: the proxy's own address", async () => {
    assertGeo((await get()).cf, WELLINGTON);
    const r = await get("not-an-address");
    assertGeo(r.cf, WELLINGTON);
    assert.equal(r.headers["cf-connecting-ip"], "127.0.0.1");
  });

  test("onConnect's ctx.request, through the proxy", async () => {
    const c = await connect(server.host, "/parties/main/ws", { headers: { "x-forwarded-for": "192.0.2.7" } });
    const w = await c.nextJson();
    assertGeo(w.cf, SAN_FRANCISCO);
    assert.equal(w.headers["cf-connecting-ip"], "192.0.2.7");
    await c.closeAndWait();
  });
});

describe("--trusted-proxy that does not cover the peer", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", { args: [...geoArgs, "--trusted-proxy", "10.0.0.0/8"] });
  });
  after(async () => {
    await server?.stop();
  });

  test("X-Forwarded-For from an untrusted peer is replaced by the peer's address", async () => {
    const r = (await http(server.host, "/parties/main/a", { headers: forged })).json();
    assertGeo(r.cf, WELLINGTON);
    assert.deepEqual(r.headers, {
      "cf-connecting-ip": "127.0.0.1", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1",
    });
  });
});

describe("--geoip on IPv6 (the socket peer ::1)", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", { args: [...geoArgs, "--address", "::1"] });
  });
  after(async () => {
    await server?.stop();
  });

  test("onRequest and onConnect see ::1's record", async () => {
    const host = `[::1]:${server.port}`;
    const r = (await http(host, "/parties/main/a", { headers: forged })).json();
    assert.equal(r.cf.city, "Berlin");
    assert.equal(r.cf.isEUCountry, "1");
    assert.equal(r.headers["cf-connecting-ip"], "::1");
    const c = await connect(host, "/parties/main/ws");
    assert.equal((await c.nextJson()).cf.city, "Berlin");
    await c.closeAndWait();
  });
});

// partyd serve takes the same flags (src/server/client_geo.h), for `partyd serve DIR` and every
// deployed project.
describe("partyd serve with --geoip and --trusted-proxy", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", {
      serve: { data: path.join(dir, "serve-data") },
      args: [...geoArgs, "--trusted-proxy", "10.0.0.0/8"],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test("onRequest sees the socket peer's geography; an untrusted peer's X-Forwarded-For is replaced", async () => {
    const r = (await http(server.host, "/parties/main/a", { headers: forged })).json();
    assertGeo(r.cf, WELLINGTON);
    assert.equal(r.frozen, true);
    assert.deepEqual(r.headers, {
      "cf-connecting-ip": "127.0.0.1", "x-real-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1",
    });
  });

  test("onConnect's ctx.request and the worker hooks have it too", async () => {
    const c = await connect(server.host, "/parties/main/ws", { headers: forged });
    const w = await c.nextJson();
    assertGeo(w.cf, WELLINGTON);
    assert.equal(w.headers["cf-connecting-ip"], "127.0.0.1");
    await c.closeAndWait();
    const g = (await http(server.host, "/parties/gate/g", { headers: forged })).json();
    assert.equal(g.edge, true);
    assertGeo(g.cf, WELLINGTON);
  });
});

describe("partyd serve behind a --trusted-proxy", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  let server;
  before(async () => {
    server = await startServer("geoip", {
      serve: { data: path.join(dir, "serve-data-proxy") },
      args: [...geoArgs, "--trusted-proxy", "127.0.0.0/8"],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test("the proxy's X-Forwarded-For names the client, in onRequest and onConnect", async () => {
    const xff = { "x-forwarded-for": "203.0.113.1, 192.0.2.7" };
    const r = (await http(server.host, "/parties/main/a", { headers: xff })).json();
    assertGeo(r.cf, SAN_FRANCISCO);
    assert.equal(r.headers["cf-connecting-ip"], "192.0.2.7");
    const c = await connect(server.host, "/parties/main/ws", { headers: xff });
    assertGeo((await c.nextJson()).cf, SAN_FRANCISCO);
    await c.closeAndWait();
  });

  test("a bad --geoip or --trusted-proxy stops serve before it starts", async () => {
    for (const [args, pattern] of [
      [["--geoip", path.join(dir, "missing.mmdb")], /--geoip .*missing\.mmdb/],
      [["--trusted-proxy", "10.0.0.0/33"], /--trusted-proxy: .*10\.0\.0\.0\/33/],
    ]) {
      await assert.rejects(startServer("geoip", { serve: { data: path.join(dir, "serve-bad") }, args }), (e) => {
        assert.match(e.message, pattern);
        return true;
      });
    }
  });
});

describe("bad --geoip and --trusted-proxy stop the start", { skip: IS_PARTYKIT && "partyd's flags", timeout: 30_000 }, () => {
  const refused = async (args, pattern) => {
    await assert.rejects(startServer("geoip", { args }), (e) => {
      assert.match(e.message, pattern);
      return true;
    });
  };

  test("a missing file", async () => {
    await refused(["--geoip", path.join(dir, "missing.mmdb")], /--geoip .*missing\.mmdb/);
  });

  test("a corrupt file", async () => {
    const bad = path.join(dir, "bad.mmdb");
    fs.writeFileSync(bad, "not a MaxMind database\n".repeat(10));
    await refused(["--geoip", bad], /--geoip .*bad\.mmdb: .*(invalid|metadata|format)/i);
    const cut = path.join(dir, "cut.mmdb");
    fs.writeFileSync(cut, fs.readFileSync(geoDb).subarray(0, 500));
    await refused(["--geoip", cut], /--geoip .*cut\.mmdb/);
  });

  test("a bad CIDR", async () => {
    await refused(["--trusted-proxy", "10.0.0.0/33"], /--trusted-proxy: .*10\.0\.0\.0\/33/);
    await refused(["--trusted-proxy", "proxy.example"], /--trusted-proxy: .*proxy\.example/);
  });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));
