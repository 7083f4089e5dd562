// URL and URLSearchParams: differential checks against Node's own WHATWG URL implementation,
// plus explicit cases for setters, IPv4/IPv6, IDNA and form encoding.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { newURLRecord, parseURL, serializeURL } from "../../src/api/js/web/url_parser.js";
import { g } from "./web_harness.mjs";

const kProps = [
  "href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname",
  "search", "hash",
];

function snapshot(URLClass, input, base) {
  try {
    const url = base === undefined ? new URLClass(input) : new URLClass(input, base);
    return Object.fromEntries(kProps.map((p) => [p, url[p]]));
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error));
    return "failure";
  }
}

const kInputs = [
  "http://example.com/", "HTTP://EXAMPLE.COM:80/a/./b/../c?q=1#f", "https://user:pa ss@h:8443/p",
  "http://[::1]:8080/", "http://[2001:db8::ff00:42:8329]/", "http://[::ffff:192.168.1.1]",
  "http://[0:0:0:0:0:0:0:0]/", "http://[1:0:0:2::3:0]/", "http://0x7f.0.0.1", "http://127.1",
  "http://999999999", "http://4294967296", "http://1.2.3.4.", "http://a.b.c.0x", "http://0x100.1",
  "http://1.2.3.09", "http://09.2.3.4", "http://1.2.3.4.5/", "http://[1::2::3]", "http://[:1]",
  "http://[1:2:3:4:5:6:7:8:9]", "http://[1:2:3:4:5:6:1.2.3.4]", "http://[::1.2.3.04]",
  "file:///C:/a/b", "file://localhost/etc/x", "file:c:\\foo\\bar", "file://host/share",
  "file:///a/../../..", "file:/C|/x", "mailto:a@b.c", "data:text/plain,hello world",
  "javascript:alert(1)", "blob:https://a.com/uuid", "blob:foo://x", "foo://host/path?x#y",
  "foo:/a/../b", "foo:///x", "sc://ñ/", "sc://%/", "http://%41.com", "http://a%2Eb/",
  "http://\u00df.de/", "http://xn--zca.de", "http://ex ample.com", "http://exa<mple",
  "http://münchen.de/ü?ü#ü", "http://ＡＢ.com", "http://a.com./", "ws://a:80", "wss://a:443/x",
  "ftp://a:21/", "http://a:65536", "http://a:0065535/", "http://a:b", "http:/a", "http:a",
  "http:\\\\a\\b", "  http://a/  ", "http://a/\t\nb", "http://@a", "http://a@b@c/", "http://:@a",
  "http://a:@b", "non-special://a:1/", "non-special://[1:2::3]:4/", "http://a/%zz%2",
  "http://a/?a=b c'd", "nonspec:/?a=b c'd", "http://a/#frag ment`", "", "a", "//a",
  "http://a/..", "http://a/.%2E/x", "http://a/b/%2e", "http://a^b", "foo://a^b", "http://a|b",
  "urn:isbn:123", "about:blank", "http://a?x", "http://a#x", "x:/.//p", "http://a/\u{1F600}",
  "http://user@/x", "https://example.com:443/", "http://example.com/a//b",
  // The parser's fast path (canonical absolute http(s) URLs) and the shapes next to it.
  "http://127.0.0.1:1999/parties/main/room-1?_pk=abc&x=%41", "https://a.example.com/p/q/",
  "http://a:8080", "http://a:65535/x?", "http://a:080/", "http://1.2.3/", "http://1.2.3.256/",
  "http://01.2.3.4/", "http://a.0x10/", "http://a.1b/", "http://a/b/%2E%2e/c", "http://a/b/./c",
  "http://a/b?c'd|e`f{g}", "http://a/b|c[d]", "http://a.b-c.d/x;y=z@w:v!$&'()*+,~",
];
const kBases = [undefined, "http://base.com/a/b?c#d", "file:///C:/dir/file", "foo://h/p/q"];

describe("URL parsing", () => {
  test("matches Node for a corpus of inputs and bases", () => {
    for (const base of kBases) {
      for (const input of kInputs) {
        assert.deepEqual(snapshot(g.URL, input, base), snapshot(URL, input, base), `${input} @ ${base}`);
      }
    }
  });

  test("the fast path gives the state machine's record", () => {
    const inputs = [...kInputs];
    for (const host of ["a", "a.b", "127.0.0.1", "0.0.0.0", "255.255.255.255", "1.2.3.4.", "a-", "xn--a.b", "09", "0x", "a..b", "1.2.3", "1.2.3.256", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3.4.5", "0x7f.1", "1.2.3.0x4", "a.0xg", "a.0xff", "a.1b", "192.168.100.200", "1.2.3.4a"]) {
      for (const port of ["", ":1", ":80", ":443", ":1999", ":65535", ":65536", ":0", ":01"]) {
        for (const rest of ["", "/", "/p/q", "/p/../q", "/./p", "/%2e%2E/p", "/p/.", "?", "?q=1&r=%zz", "/p?q'", "/p|[]"]) {
          for (const scheme of ["http", "https", "ws", "HTTP"]) inputs.push(`${scheme}://${host}${port}${rest}`);
        }
      }
    }
    // The fast path's record keeps its path as text until asked: compare what each one holds.
    const fields = (r) => r === null ? null : {
      scheme: r.scheme, username: r.username, password: r.password, host: r.host, port: r.port,
      path: r.path, query: r.query, fragment: r.fragment,
    };
    for (const input of inputs) {
      if (input.trim() !== input || /[\t\n\r]/.test(input)) continue;
      const fast = parseURL(input);
      const href = fast === null ? null : serializeURL(fast);  // before the segments are asked for
      assert.deepEqual(fields(fast), fields(parseURL(input, null, newURLRecord())), input);
      if (fast !== null) assert.equal(serializeURL(fast), href, input);
    }
  });

  test("searchParams, made on first use, follows search and href set before and after", () => {
    const u = new g.URL("http://a/?x=1");
    u.search = "?y=2";
    assert.equal(u.searchParams.get("y"), "2");
    assert.equal(u.searchParams.get("x"), null);
    const sp = u.searchParams;
    u.href = "http://b/?z=3";
    assert.equal(u.searchParams, sp);
    assert.equal(sp.get("z"), "3");
    sp.append("w", "4");
    assert.equal(u.href, "http://b/?z=3&w=4");
    u.search = "";
    assert.equal(sp.toString(), "");
    const v = new g.URL("http://a/p");
    v.searchParams.set("q", "a b");
    assert.equal(v.href, "http://a/p?q=a+b");
  });

  test("relative references", () => {
    const base = "http://a/b/c/d;p?q";
    const cases = {
      "g": "http://a/b/c/g", "./g": "http://a/b/c/g", "g/": "http://a/b/c/g/", "/g": "http://a/g",
      "//g": "http://g/", "?y": "http://a/b/c/d;p?y", "g?y": "http://a/b/c/g?y", "#s": "http://a/b/c/d;p?q#s",
      "": "http://a/b/c/d;p?q", ".": "http://a/b/c/", "..": "http://a/b/", "../..": "http://a/",
      "../../../g": "http://a/g", "g;x=1/../y": "http://a/b/c/y", "http:g": "http://a/b/c/g",
    };
    for (const [input, expected] of Object.entries(cases)) {
      assert.equal(new g.URL(input, base).href, expected, input);
    }
  });

  test("opaque bases accept only fragments", () => {
    assert.equal(new g.URL("#x", "mailto:a@b").href, "mailto:a@b#x");
    assert.throws(() => new g.URL("x", "mailto:a@b"), TypeError);
  });

  test("errors, canParse, parse, toJSON", () => {
    assert.throws(() => new g.URL("nope"), { name: "TypeError", message: /Invalid URL/ });
    assert.throws(() => new g.URL("/x", "nope"), TypeError);
    assert.throws(() => new g.URL(), TypeError);
    assert.equal(g.URL.canParse("http://x"), true);
    assert.equal(g.URL.canParse("/x"), false);
    assert.equal(g.URL.canParse("/x", "http://y"), true);
    assert.equal(g.URL.parse("nope"), null);
    assert.equal(g.URL.parse("/p", "http://h").href, "http://h/p");
    const url = new g.URL("http://h/p");
    assert.equal(JSON.stringify({ url }), '{"url":"http://h/p"}');
    assert.equal(String(url), "http://h/p");
    assert.equal(new g.URL(url).href, "http://h/p");
    assert.equal(Object.prototype.toString.call(url), "[object URL]");
  });

  test("IDNA: UTS #46 ToASCII for non-ASCII domains", () => {
    assert.equal(new g.URL("http://MÜNCHEN.de").hostname, "xn--mnchen-3ya.de");
    assert.equal(new g.URL("http://例え.テスト/").hostname, "xn--r8jz45g.xn--zckzah");
    assert.equal(new g.URL("http://😀.example").hostname, "xn--e28h.example");
    assert.equal(new g.URL("http://a\u3002b/").hostname, "a.b");
    // An ASCII host is only lower-cased, as the WPT tables expect (toascii.json: "xn--a").
    assert.equal(new g.URL("http://XN--a.com/").hostname, "xn--a.com");
    assert.throws(() => new g.URL("http://xn--a.\u00df/"), TypeError);
    assert.throws(() => new g.URL("http://a%25b/"), TypeError);
  });
});

describe("URL setters", () => {
  const cases = [
    ["http://a/", "protocol", "https", "https://a/"],
    ["http://a:443/", "protocol", "https:", "https://a/"],
    ["http://a/", "protocol", "foo", "http://a/"],
    ["foo://a/", "protocol", "http", "foo://a/"],
    ["foo://a/", "protocol", "bar+baz:rest", "bar+baz://a/"],
    ["http://u@a:1/", "protocol", "file", "http://u@a:1/"],
    ["http://a/", "username", "us er", "http://us%20er@a/"],
    ["http://a/", "password", "p@ss:", "http://:p%40ss%3A@a/"],
    ["mailto:x", "username", "u", "mailto:x"],
    ["file:///x", "username", "u", "file:///x"],
    ["http://a:8080/p", "host", "b", "http://b:8080/p"],
    ["http://a/p", "host", "b:81", "http://b:81/p"],
    ["http://a/p", "host", "b:80", "http://b/p"],
    ["http://a/p", "host", "", "http://a/p"],
    ["http://a/p", "host", "b:8080stuff", "http://b:8080/p"],
    ["http://a/p", "host", "[::0:1]:2", "http://[::1]:2/p"],
    ["http://a/p", "hostname", "b:81", "http://a/p"],
    ["http://a/p", "hostname", "0x7F000001", "http://127.0.0.1/p"],
    ["sc://x/", "host", "", "sc:///"],
    ["sc://x/", "host", "\u0000", "sc://x/"],
    ["a:/foo", "host", "example.net", "a://example.net/foo"],
    ["non-spec:/.//p", "host", "h", "non-spec://h//p"],
    ["data:text/plain,x", "host", "h", "data:text/plain,x"],
    ["file://h/x", "host", "localhost", "file:///x"],
    ["http://a:1/", "port", "", "http://a/"],
    ["http://a/", "port", "8080/x", "http://a:8080/"],
    ["http://a/", "port", "80", "http://a/"],
    ["http://a:1/", "port", "65536", "http://a:1/"],
    ["http://a:1/", "port", "x", "http://a:1/"],
    ["sc:///", "port", "12", "sc:///"],
    ["http://a/b", "pathname", "c d/../e", "http://a/e"],
    ["http://a/b", "pathname", "?#", "http://a/%3F%23"],
    ["foo://h/p", "pathname", "", "foo://h"],
    ["foo:/p", "pathname", "", "foo:/"],
    ["mailto:x", "pathname", "y", "mailto:x"],
    ["http://a/b?x#h", "search", "y z", "http://a/b?y%20z#h"],
    ["http://a/b?x#h", "search", "?'", "http://a/b?%27#h"],
    ["foo://a/b", "search", "'", "foo://a/b?'"],
    ["http://a/b?x#h", "search", "", "http://a/b#h"],
    ["http://a/b#h", "hash", "x y", "http://a/b#x%20y"],
    ["http://a/b#h", "hash", "#", "http://a/b#"],
    ["http://a/b#h", "hash", "", "http://a/b"],
    ["foo:opaque  #h", "hash", "", "foo:opaque %20"],
    ["http://a/", "href", "https://b/c", "https://b/c"],
  ];
  test("follow the state-override rules", () => {
    for (const [href, setter, value, expected] of cases) {
      const url = new g.URL(href);
      url[setter] = value;
      assert.equal(url.href, expected, `${href} .${setter} = ${JSON.stringify(value)}`);
    }
    assert.throws(() => {
      new g.URL("http://a/").href = "relative";
    }, TypeError);
  });

  test("getters", () => {
    const url = new g.URL("https://user:pw@example.com:8443/a/c?x=1&y=two#frag");
    assert.equal(url.origin, "https://example.com:8443");
    assert.equal(url.host, "example.com:8443");
    assert.equal(url.port, "8443");
    assert.equal(url.search, "?x=1&y=two");
    assert.equal(new g.URL("http://a/?").search, "");
    assert.equal(new g.URL("http://a/#").hash, "");
    assert.equal(new g.URL("blob:https://a.com:1/x").origin, "https://a.com:1");
    assert.equal(new g.URL("file:///x").origin, "null");
  });
});

describe("URLSearchParams", () => {
  test("parses and serialises application/x-www-form-urlencoded", () => {
    const p = new g.URLSearchParams("?a=1&b=x+y&c=%E2%9C%93&d&=e&&f=%zz&a=3");
    assert.deepEqual([...p], [["a", "1"], ["b", "x y"], ["c", "✓"], ["d", ""], ["", "e"], ["f", "%zz"], ["a", "3"]]);
    assert.equal(p.toString(), "a=1&b=x+y&c=%E2%9C%93&d=&=e&f=%25zz&a=3");
    const special = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~é";
    const ours = new g.URLSearchParams({ k: special }).toString();
    assert.equal(ours, new URLSearchParams({ k: special }).toString());
    assert.equal(new g.URLSearchParams(ours).get("k"), special);
  });

  test("constructs from records, sequences and other params", () => {
    assert.equal(new g.URLSearchParams({ a: 1, b: [2, 3] }).toString(), "a=1&b=2%2C3");
    assert.equal(new g.URLSearchParams([["a", "1"], ["a", "2"]]).toString(), "a=1&a=2");
    const copy = new g.URLSearchParams(new g.URLSearchParams("x=1"));
    assert.equal(copy.toString(), "x=1");
    assert.equal(new g.URLSearchParams(new Map([["m", "1"]])).toString(), "m=1");
    assert.throws(() => new g.URLSearchParams([["a"]]), TypeError);
    assert.throws(() => new g.URLSearchParams([1]), TypeError);
    assert.equal(new g.URLSearchParams().toString(), "");
  });

  test("methods", () => {
    const p = new g.URLSearchParams("a=1&b=2&a=3&c=4");
    assert.equal(p.get("a"), "1");
    assert.equal(p.get("z"), null);
    assert.deepEqual(p.getAll("a"), ["1", "3"]);
    assert.equal(p.has("b"), true);
    assert.equal(p.has("a", "3"), true);
    assert.equal(p.has("a", "4"), false);
    assert.equal(p.size, 4);
    p.set("a", "x");
    assert.equal(p.toString(), "a=x&b=2&c=4");
    p.append("a", "y");
    p.delete("a", "x");
    assert.equal(p.toString(), "b=2&c=4&a=y");
    p.delete("c");
    p.append("B", "0");
    p.append("a", "z");
    p.sort();
    assert.equal(p.toString(), "B=0&a=y&a=z&b=2");
    const seen = [];
    p.forEach((value, key, self) => seen.push([key, value, self === p]));
    assert.deepEqual(seen[0], ["B", "0", true]);
    assert.deepEqual([...p.keys()], ["B", "a", "a", "b"]);
    assert.deepEqual([...p.values()], ["0", "y", "z", "2"]);
    assert.equal(Object.prototype.toString.call(p.entries()), "[object URLSearchParams Iterator]");
    assert.throws(() => p.get(), TypeError);
  });

  test("URL.searchParams is live both ways", () => {
    const url = new g.URL("http://a/?x=1#h");
    url.searchParams.append("y", "a b");
    assert.equal(url.href, "http://a/?x=1&y=a+b#h");
    url.search = "?z=3";
    assert.deepEqual([...url.searchParams], [["z", "3"]]);
    url.searchParams.delete("z");
    assert.equal(url.href, "http://a/#h");
    url.href = "http://b/?q=2";
    assert.equal(url.searchParams.get("q"), "2");
    const opaque = new g.URL("foo:op  ?q");
    opaque.searchParams.delete("q");
    assert.equal(opaque.href, "foo:op %20");
  });
});
