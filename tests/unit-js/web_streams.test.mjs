// ReadableStream, WritableStream, TransformStream, pipes, tee, BYOB reads, async iteration,
// queuing strategies and the text encoding streams.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { g } from "./web_harness.mjs";

async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

function arraySink(out, options = {}) {
  return new g.WritableStream({
    write(chunk) {
      out.push(chunk);
      return options.delay ? new Promise((r) => setTimeout(r, 1)) : undefined;
    },
    close() {
      out.push("<closed>");
    },
    abort(reason) {
      out.push(["<aborted>", reason]);
    },
  }, options.strategy);
}

describe("ReadableStream", () => {
  test("start/enqueue/close and a default reader", async () => {
    const stream = new g.ReadableStream({
      start(controller) {
        assert.equal(controller.desiredSize, 1);
        controller.enqueue("a");
        controller.enqueue("b");
        controller.close();
        assert.throws(() => controller.enqueue("c"), TypeError);
      },
    });
    const reader = stream.getReader();
    assert.equal(stream.locked, true);
    assert.throws(() => stream.getReader(), TypeError);
    assert.deepEqual(await reader.read(), { value: "a", done: false });
    assert.deepEqual(await reader.read(), { value: "b", done: false });
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
    await reader.closed;
    reader.releaseLock();
    assert.equal(stream.locked, false);
  });

  test("pull is called on demand and respects the high water mark", async () => {
    let pulls = 0;
    const stream = new g.ReadableStream({
      pull(controller) {
        pulls++;
        controller.enqueue(pulls);
        if (pulls === 3) controller.close();
      },
    }, { highWaterMark: 0 });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(pulls, 0);
    assert.deepEqual(await collect(stream), [1, 2, 3]);
  });

  test("errors reach pending reads and closed", async () => {
    let controller;
    const stream = new g.ReadableStream({ start: (c) => void (controller = c) });
    const reader = stream.getReader();
    const read = reader.read();
    controller.error(new Error("boom"));
    await assert.rejects(read, /boom/);
    await assert.rejects(reader.closed, /boom/);
    const failing = new g.ReadableStream({ pull() { throw new Error("pull failed"); } });
    await assert.rejects(failing.getReader().read(), /pull failed/);
  });

  test("cancel reaches the source and releaseLock rejects pending reads", async () => {
    let reason;
    const stream = new g.ReadableStream({ cancel: (r) => void (reason = r) });
    const reader = stream.getReader();
    const pending = reader.read();
    reader.releaseLock();
    await assert.rejects(pending, TypeError);
    await stream.cancel("why");
    assert.equal(reason, "why");
    assert.deepEqual(await stream.getReader().read(), { value: undefined, done: true });
    const locked = new g.ReadableStream();
    locked.getReader();
    await assert.rejects(locked.cancel(), TypeError);
  });

  test("async iteration: break cancels, preventCancel does not", async () => {
    let canceled = 0;
    const make = () => new g.ReadableStream({
      pull(c) { c.enqueue(1); },
      cancel() { canceled++; },
    });
    for await (const x of make()) { assert.equal(x, 1); break; }
    assert.equal(canceled, 1);
    const s = make();
    for await (const x of s.values({ preventCancel: true })) { void x; break; }
    assert.equal(canceled, 1);
    assert.equal(s.locked, false);
  });

  test("tee gives both branches every chunk", async () => {
    const [a, b] = g.ReadableStream.from(["x", "y", "z"]).tee();
    assert.deepEqual(await Promise.all([collect(a), collect(b)]), [["x", "y", "z"], ["x", "y", "z"]]);
  });

  test("from() accepts async and sync iterables", async () => {
    async function* gen() { yield 1; yield 2; }
    assert.deepEqual(await collect(g.ReadableStream.from(gen())), [1, 2]);
    assert.deepEqual(await collect(g.ReadableStream.from(new Set(["s"]))), ["s"]);
    assert.throws(() => g.ReadableStream.from(5), TypeError);
  });

  test("byte streams copy chunks and serve BYOB reads", async () => {
    const source = new Uint8Array([1, 2, 3, 4, 5]);
    const stream = new g.ReadableStream({
      type: "bytes",
      start(c) {
        c.enqueue(source);
        c.close();
      },
    });
    source[0] = 99;
    const reader = stream.getReader({ mode: "byob" });
    let r = await reader.read(new Uint8Array(3));
    assert.deepEqual([...r.value], [1, 2, 3]);
    r = await reader.read(new Uint8Array(3));
    assert.deepEqual([...r.value], [4, 5]);
    r = await reader.read(new Uint8Array(3));
    assert.equal(r.done, true);
    assert.throws(() => new g.ReadableStream().getReader({ mode: "byob" }), TypeError);
  });

  test("strategies", () => {
    const count = new g.CountQueuingStrategy({ highWaterMark: 3 });
    assert.equal(count.highWaterMark, 3);
    assert.equal(count.size(), 1);
    const bytes = new g.ByteLengthQueuingStrategy({ highWaterMark: 10 });
    assert.equal(bytes.size(new Uint8Array(4)), 4);
    let controller;
    new g.ReadableStream({ start: (c) => void (controller = c) }, bytes).getReader();
    controller.enqueue(new Uint8Array(4));
    assert.equal(controller.desiredSize, 6);
    assert.throws(() => new g.ReadableStream({}, { highWaterMark: -1 }), RangeError);
  });
});

describe("WritableStream", () => {
  test("writes in order, then closes", async () => {
    const out = [];
    const writer = arraySink(out, { delay: true }).getWriter();
    await writer.ready;
    const writes = [writer.write("a"), writer.write("b")];
    await writer.close();
    await Promise.all(writes);
    assert.deepEqual(out, ["a", "b", "<closed>"]);
    await writer.closed;
    await assert.rejects(writer.write("c"), TypeError);
  });

  test("backpressure shows in desiredSize and ready", async () => {
    let release;
    const writer = new g.WritableStream({
      write: () => new Promise((r) => (release = r)),
    }, { highWaterMark: 2 }).getWriter();
    assert.equal(writer.desiredSize, 2);
    writer.write(1);
    writer.write(2);
    assert.equal(writer.desiredSize, 0);
    let ready = false;
    writer.ready.then(() => (ready = true));
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(ready, false);
    release();
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(ready, true);
  });

  test("a failing sink errors the stream; abort reaches the sink", async () => {
    const writer = new g.WritableStream({ write() { throw new Error("sink"); } }).getWriter();
    await assert.rejects(writer.write("x"), /sink/);
    await assert.rejects(writer.closed, /sink/);
    const out = [];
    const stream = arraySink(out);
    await stream.abort("stop");
    assert.deepEqual(out, [["<aborted>", "stop"]]);
    await assert.rejects(stream.getWriter().write("y"));
  });

  test("controller.signal aborts with the abort reason", async () => {
    let signal;
    const stream = new g.WritableStream({ start(c) { signal = c.signal; } });
    await stream.abort("r");
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, "r");
  });
});

describe("pipes and TransformStream", () => {
  test("pipeThrough a TransformStream into a WritableStream", async () => {
    const out = [];
    const upper = new g.TransformStream({
      transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); },
      flush(controller) { controller.enqueue("!"); },
    });
    await g.ReadableStream.from(["a", "b", "c"]).pipeThrough(upper).pipeTo(arraySink(out, { delay: true }));
    assert.deepEqual(out, ["A", "B", "C", "!", "<closed>"]);
  });

  test("identity TransformStream passes chunks through", async () => {
    const { readable, writable } = new g.TransformStream();
    const writer = writable.getWriter();
    writer.write(1);
    writer.write(2);
    writer.close();
    assert.deepEqual(await collect(readable), [1, 2]);
  });

  test("errors propagate forward and backward", async () => {
    const out = [];
    const source = new g.ReadableStream({ start(c) { c.enqueue("x"); c.error(new Error("src")); } });
    await assert.rejects(source.pipeTo(arraySink(out)), /src/);
    assert.equal(out.at(-1)[0], "<aborted>");

    let canceled;
    const endless = new g.ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { canceled = r; } });
    const failing = new g.WritableStream({ write() { throw new Error("dst"); } });
    await assert.rejects(endless.pipeTo(failing), /dst/);
    assert.match(String(canceled), /dst/);
  });

  test("an abort signal stops the pipe", async () => {
    const controller = new g.AbortController();
    const out = [];
    const endless = new g.ReadableStream({ pull(c) { c.enqueue(1); return new Promise((r) => setTimeout(r, 1)); } });
    const piping = endless.pipeTo(arraySink(out), { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await assert.rejects(piping, { name: "AbortError" });
    assert.equal(endless.locked, false);
  });

  test("transform errors error both sides", async () => {
    const ts = new g.TransformStream({ transform() { throw new Error("bad"); } });
    const writer = ts.writable.getWriter();
    // With the readable's high water mark at 0, nothing is transformed until someone reads.
    const read = ts.readable.getReader().read();
    await assert.rejects(writer.write("x"), /bad/);
    await assert.rejects(read, /bad/);
  });

  test("TextEncoderStream and TextDecoderStream", async () => {
    const text = "héllo 😀 wörld";
    const encoded = g.ReadableStream.from([text.slice(0, 7), text.slice(7, 8), text.slice(8)])
      .pipeThrough(new g.TextEncoderStream());
    const bytes = Buffer.concat(await collect(encoded));
    assert.equal(bytes.toString(), text);
    const oneByteChunks = g.ReadableStream.from([...bytes].map((b) => new Uint8Array([b])));
    const decoded = await collect(oneByteChunks.pipeThrough(new g.TextDecoderStream()));
    assert.equal(decoded.join(""), text);
  });
});

describe("BYOB requests (issue 13)", () => {
  test("pull sees the reader's view as controller.byobRequest and answers with respond()", async () => {
    let seen = null;
    const stream = new g.ReadableStream({
      type: "bytes",
      pull(controller) {
        const request = controller.byobRequest;
        seen = request.view.byteLength;
        assert.equal(controller.byobRequest, request); // one object until answered
        request.view.set([1, 2, 3]);
        request.respond(3);
        assert.equal(controller.byobRequest, null);
        controller.close();
      },
    });
    const reader = stream.getReader({ mode: "byob" });
    const { value } = await reader.read(new Uint8Array(8));
    assert.equal(seen, 8);
    assert.deepEqual([...value], [1, 2, 3]);
    assert.equal((await reader.read(new Uint8Array(2))).done, true);
  });

  test("respondWithNewView copies a view of another buffer into the request", async () => {
    const stream = new g.ReadableStream({
      type: "bytes",
      pull(controller) {
        controller.byobRequest.respondWithNewView(new Uint8Array([7, 8]));
      },
    });
    const { value } = await stream.getReader({ mode: "byob" }).read(new Uint8Array(4));
    assert.deepEqual([...value], [7, 8]);
  });

  test("with bytes queued, or for a default reader, there is no byobRequest", async () => {
    const requests = [];
    const stream = new g.ReadableStream({
      type: "bytes",
      pull(controller) {
        requests.push(controller.byobRequest);
        controller.enqueue(new Uint8Array([1]));
      },
    });
    await stream.getReader().read();
    assert.deepEqual(requests, [null]);
  });
});
