// The outgoing WebSocket class (src/api/js/websocket.js) over a fake native client that records
// calls; tests play the C++ side through `dispatchers`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { g, defineEventHandler, flushMicrotasks, takeLogs } from "./web_harness.mjs";
import { createWebSocketClass, dispatchers } from "../../src/api/js/websocket.js";

let nextId = 1;
const calls = [];
const buffered = new Map();
const fakeNative = {
  wsConnect: (url, protocols, headers) => {
    const id = nextId++;
    calls.push(["connect", id, url, protocols, headers]);
    return id;
  },
  wsSend: (id, data) => void calls.push(["send", id, data]),
  wsClose: (id, code, reason) => void calls.push(["close", id, code, reason]),
  wsBufferedAmount: (id) => buffered.get(id) ?? 0,
};

const WebSocket = createWebSocketClass(fakeNative, {
  EventTarget: g.EventTarget,
  MessageEvent: g.MessageEvent,
  CloseEvent: g.CloseEvent,
  ErrorEvent: g.ErrorEvent,
  Event: g.Event,
  defineEventHandler,
  DOMException: g.DOMException,
  URL: g.URL,
  Blob: g.Blob,
  Headers: g.Headers,
});

function take() {
  return calls.splice(0);
}

// A socket and its id, with every event recorded as [type, details].
function open(url = "ws://example.com/chat", protocols) {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const [[, id]] = take();
  const events = [];
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (e) => {
      if (type === "message") events.push([type, e.data, e.origin]);
      else if (type === "close") events.push([type, e.code, e.reason, e.wasClean]);
      else if (type === "error") events.push([type, e.message]);
      else events.push([type]);
    });
  }
  return { ws, id, events };
}

function assertDOMException(fn, name) {
  assert.throws(fn, (e) => e instanceof g.DOMException && e.name === name);
}

describe("WebSocket constructor", () => {
  test("connects with the serialized URL and protocols", () => {
    const ws = new WebSocket("wss://Example.com:443/a b?x=1", ["chat", "v2"]);
    const [[kind, id, url, protocols, headers]] = take();
    assert.equal(kind, "connect");
    assert.equal(url, "wss://example.com/a%20b?x=1");
    assert.deepEqual(protocols, ["chat", "v2"]);
    assert.deepEqual(headers, []);
    assert.equal(ws.url, url);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.equal(ws.protocol, "");
    assert.equal(ws.extensions, "");
    assert.equal(ws.binaryType, "arraybuffer");  // workerd's default, not the browser's
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(Object.prototype.toString.call(ws), "[object WebSocket]");
    dispatchers.wsClose(id, 1006, "", false);
  });

  test("maps http and https to ws and wss", () => {
    assert.equal(new WebSocket("http://a.com/").url, "ws://a.com/");
    assert.equal(new WebSocket("https://a.com/").url, "wss://a.com/");
    for (const [, id] of take()) dispatchers.wsClose(id, 1006, "", false);
  });

  test("rejects bad URLs, schemes, fragments and protocols with SyntaxError", () => {
    assertDOMException(() => new WebSocket("not a url"), "SyntaxError");
    assertDOMException(() => new WebSocket("ftp://a.com/"), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://a.com/#frag"), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://a.com/#"), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://a.com/", ["a", "A"]), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://a.com/", "has space"), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://a.com/", [""]), "SyntaxError");
    assert.throws(() => new WebSocket(), TypeError);
    assert.deepEqual(take(), []);
  });

  test("a single protocol string and the dictionary form", () => {
    new WebSocket("ws://a.com/", "chat");
    new WebSocket("ws://a.com/", { protocols: ["p"], headers: { "X-Token": "t" } });
    const [first, second] = take();
    assert.deepEqual(first[3], ["chat"]);
    assert.deepEqual(second[3], ["p"]);
    assert.deepEqual(second[4], [["x-token", "t"]]);
    dispatchers.wsClose(first[1], 1006, "", false);
    dispatchers.wsClose(second[1], 1006, "", false);
  });

  test("constants on the class and the prototype", () => {
    for (const [name, value] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]]) {
      assert.equal(WebSocket[name], value);
      assert.equal(WebSocket.prototype[name], value);
    }
  });
});

describe("WebSocket events", () => {
  test("open, text and binary messages, close", async () => {
    const { ws, id, events } = open();
    let onopen = 0;
    ws.onopen = () => onopen++;
    dispatchers.wsOpen(id, "chat");
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.protocol, "chat");
    assert.equal(onopen, 1);
    dispatchers.wsMessage(id, false, "hi");
    ws.binaryType = "arraybuffer";
    dispatchers.wsMessage(id, true, new Uint8Array([1, 2, 3]).buffer);
    ws.binaryType = "nonsense";  // ignored
    assert.equal(ws.binaryType, "arraybuffer");
    ws.binaryType = "blob";
    dispatchers.wsMessage(id, true, new Uint8Array([4, 5]));
    dispatchers.wsClose(id, 4000, "bye", true);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.equal(events[0][0], "open");
    assert.deepEqual(events[1], ["message", "hi", "http://example.com"]);
    assert.ok(events[2][1] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(events[2][1])], [1, 2, 3]);
    assert.ok(events[3][1] instanceof g.Blob);
    assert.deepEqual([...new Uint8Array(await events[3][1].arrayBuffer())], [4, 5]);
    assert.deepEqual(events[4], ["close", 4000, "bye", true]);
    // Nothing after close.
    dispatchers.wsMessage(id, false, "late");
    dispatchers.wsClose(id, 1000, "", true);
    assert.equal(events.length, 5);
  });

  test("a failed connection fires error then close", () => {
    const { ws, id, events } = open();
    let onerror = null;
    ws.onerror = (e) => (onerror = e);
    dispatchers.wsError(id, "connection refused");
    dispatchers.wsClose(id, 1006, "", false);
    assert.deepEqual(events, [["error", "connection refused"], ["close", 1006, "", false]]);
    assert.ok(onerror instanceof g.Event);
  });

  test("listener exceptions are reported, not thrown to the C++ side", () => {
    const { ws, id } = open();
    ws.onopen = () => {
      throw new Error("boom");
    };
    dispatchers.wsOpen(id, "");
    assert.match(takeLogs().map(([, text]) => text).join("\n"), /boom/);
    dispatchers.wsClose(id, 1006, "", false);
  });
});

describe("WebSocket send", () => {
  test("throws InvalidStateError while connecting", () => {
    const { ws, id } = open();
    assertDOMException(() => ws.send("x"), "InvalidStateError");
    dispatchers.wsClose(id, 1006, "", false);
  });

  test("strings, buffers and views go to the native as strings and bytes", () => {
    const { ws, id } = open();
    dispatchers.wsOpen(id, "");
    ws.send("héllo");
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    ws.send(new Uint16Array([0x0201, 0x0403]).subarray(1));
    ws.send(42);
    const sent = take();
    assert.deepEqual(sent[0], ["send", id, "héllo"]);
    assert.deepEqual([...sent[1][2]], [1, 2, 3]);
    assert.deepEqual([...sent[2][2]], [3, 4]);
    assert.deepEqual(sent[3], ["send", id, "42"]);
    buffered.set(id, 17);
    assert.equal(ws.bufferedAmount, 17);
    buffered.delete(id);
    dispatchers.wsClose(id, 1006, "", false);
  });

  test("Blobs keep their place in the order", async () => {
    const { ws, id } = open();
    dispatchers.wsOpen(id, "");
    ws.send("first");
    ws.send(new g.Blob(["second"]));
    ws.send("third");
    assert.equal(ws.bufferedAmount, 6 + 5);
    ws.close(1000, "done");
    assert.deepEqual(take(), [["send", id, "first"]]);
    await flushMicrotasks();
    const sent = take();
    assert.equal(sent.length, 3);
    assert.equal(new TextDecoder().decode(sent[0][2]), "second");
    assert.deepEqual(sent[1], ["send", id, "third"]);
    assert.deepEqual(sent[2], ["close", id, 1000, "done"], "the close frame follows the data");
    assert.equal(ws.bufferedAmount, 0);
    dispatchers.wsClose(id, 1000, "done", true);
  });

  test("after close(), data is counted but not sent", () => {
    const { ws, id } = open();
    dispatchers.wsOpen(id, "");
    ws.close();
    take();
    ws.send("abc");
    assert.deepEqual(take(), []);
    assert.equal(ws.bufferedAmount, 3);
    dispatchers.wsClose(id, 1005, "", true);
  });
});

describe("WebSocket close", () => {
  test("validates the code and reason", () => {
    const { ws, id } = open();
    dispatchers.wsOpen(id, "");
    assertDOMException(() => ws.close(1001), "InvalidAccessError");
    assertDOMException(() => ws.close(2999), "InvalidAccessError");
    assertDOMException(() => ws.close(5000), "InvalidAccessError");
    assertDOMException(() => ws.close(1000, "é".repeat(62)), "SyntaxError");
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(4999, "x".repeat(123));
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.close(1000);  // ignored once closing
    assert.deepEqual(take(), [["close", id, 4999, "x".repeat(123)]]);
    dispatchers.wsClose(id, 4999, "", true);
  });

  test("no code sends none, a reason alone sends 1000", () => {
    const a = open();
    const b = open();
    dispatchers.wsOpen(a.id, "");
    dispatchers.wsOpen(b.id, "");
    a.ws.close();
    b.ws.close(undefined, "why");
    assert.deepEqual(take(), [["close", a.id, 0, ""], ["close", b.id, 1000, "why"]]);
    dispatchers.wsClose(a.id, 1005, "", true);
    dispatchers.wsClose(b.id, 1000, "why", true);
  });

  test("while connecting, the native fails the connection", () => {
    const { ws, id, events } = open();
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.deepEqual(take(), [["close", id, 0, ""]]);
    dispatchers.wsOpen(id, "");  // too late: ignored
    dispatchers.wsError(id, "closed before the connection was established");
    dispatchers.wsClose(id, 1006, "", false);
    assert.deepEqual(events.map((e) => e[0]), ["error", "close"]);
    assert.equal(dispatchers.wsOpenCount(), 0);
  });

  test("accept() is a no-op", () => {
    const { ws, id } = open();
    ws.accept();
    dispatchers.wsClose(id, 1006, "", false);
  });
});
