// HTMLRewriter, as workerd has it: `new HTMLRewriter().on(selector, handlers).onDocument(handlers)
// .transform(response)` returns a Response whose body streams the rewritten HTML. The parser is
// lol-html's WebAssembly build (the html-rewriter-wasm package, pinned in package-lock.json),
// which this file loads on the first use of HTMLRewriter in a context (native.htmlRewriterScript()
// compiles the package's glue, native.htmlRewriterWasm() gives its .wasm; both are embedded in
// the binary), so a context that never uses it pays nothing.
//
// What this wrapper adds to the package:
// - Serialization. The package suspends an async handler with asyncify, and one WebAssembly
//   instance holds one suspended call at a time; every write/end of every rewriter of the context
//   runs in turn (`serialized`). A handler that awaits another rewriter's output deadlocks, as on
//   Miniflare 2.
// - Handler errors never reach the WebAssembly side. The package leaves its asyncify state and the
//   rewriter behind when a handler's promise rejects; here each handler is wrapped (`guard`): its
//   exception or rejection is kept, the later handlers of that document are skipped, and when the
//   write returns the rewriter is freed and the body's stream errors with the handler's error.
// - An error that does come out of the WebAssembly side (a bad selector, a trap) drops the whole
//   instance: the next use loads a fresh one, rather than one whose state is unknown.
// - A handler stopped for overrunning its CPU budget never finishes its write: the runtime calls
//   resetHTMLRewriter() then, which drops the instance and lets the next transforms run.

const ELEMENT_HANDLERS = ["element", "comments", "text"];
const DOCUMENT_HANDLERS = ["doctype", "comments", "text", "end"];

let native = null;
let lib = null; // html-rewriter-wasm's exports in this context, once loaded
let current = null; // the transform whose write or end runs now (for Element.onEndTag)
// The one write or end running (busy) and those waiting for it; `generation` tells a run that was
// given up by resetHTMLRewriter not to start the next one.
let busy = false;
let generation = 0;
const waiting = [];

function load() {
  if (lib !== null) return lib;
  const factory = native.htmlRewriterScript();
  const modules = {};
  const requireShim = (name) => {
    if (!(name in modules)) throw new Error(`partyd: html-rewriter-wasm requires ${name}`);
    return modules[name];
  };
  const loaded = factory(native.htmlRewriterWasm(), modules, requireShim);
  // An end-tag handler is registered from inside a handler: guard it for the running transform.
  const onEndTag = loaded.Element.prototype.onEndTag;
  Object.defineProperty(loaded.Element.prototype, "onEndTag", {
    value: function (handler) {
      if (typeof handler !== "function") {
        throw new TypeError("Failed to execute 'onEndTag' on 'Element': parameter 1 is not a function.");
      }
      return onEndTag.call(this, current ? guard(current, handler, undefined) : handler);
    },
    writable: true,
    configurable: true,
  });
  lib = loaded;
  return lib;
}

// Drops the instance after an error that came out of it: its state is unknown.
function dropInstance(which) {
  if (lib === which) lib = null;
}

function serialized(fn) {
  return new Promise((resolve, reject) => {
    waiting.push({ fn, resolve, reject });
    pump();
  });
}

function pump() {
  if (busy || waiting.length === 0) return;
  busy = true;
  const { fn, resolve, reject } = waiting.shift();
  const mine = generation;
  Promise.resolve()
    .then(fn)
    .then(resolve, reject)
    .finally(() => {
      if (mine !== generation) return;
      busy = false;
      pump();
    });
}

// After the runtime stopped a handler (C++ calls the entry asyncContextReset): a write that was
// running may never finish, so its instance is dropped and the lock handed on. A transform still
// running on the old instance goes on there; new ones load a fresh instance.
export function resetHTMLRewriter() {
  current = null;
  if (!busy) return;
  generation++;
  busy = false;
  lib = null;
  pump();
}

function fail(state, error) {
  if (!state.failed) {
    state.failed = true;
    state.error = error;
  }
}

// A handler as the WebAssembly side sees it: it never throws and never rejects.
function guard(state, fn, thisArg) {
  return function (arg) {
    if (state.failed) return undefined;
    let result;
    try {
      result = fn.call(thisArg === undefined ? this : thisArg, arg);
    } catch (e) {
      fail(state, e);
      return undefined;
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      return Promise.resolve(result).then(
        () => undefined,
        (e) => fail(state, e),
      );
    }
    return undefined;
  };
}

function wrapHandlers(state, handlers, names, what) {
  if (handlers === null || (typeof handlers !== "object" && typeof handlers !== "function")) {
    throw new TypeError(`Failed to execute '${what}' on 'HTMLRewriter': parameter ${
      what === "on" ? 2 : 1} is not an object.`);
  }
  const out = {};
  for (const name of names) {
    const fn = handlers[name];
    if (fn === undefined) continue;
    if (typeof fn !== "function") {
      throw new TypeError(`Failed to execute '${what}' on 'HTMLRewriter': the '${name}' handler is not a function.`);
    }
    out[name] = state ? guard(state, fn, handlers) : () => {};
  }
  return out;
}

function toBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("HTMLRewriter: the response body gave a chunk that is not a BufferSource.");
}

// Registers the handlers on a fresh rewriter of `loaded`; an error (a bad selector) frees it.
function makeRewriter(loaded, sink, elementHandlers, documentHandlers, state) {
  const rw = new loaded.HTMLRewriter(sink, { enableEsiTags: false });
  try {
    for (const [selector, handlers] of elementHandlers) {
      rw.on(selector, wrapHandlers(state, handlers, ELEMENT_HANDLERS, "on"));
    }
    for (const handlers of documentHandlers) {
      rw.onDocument(wrapHandlers(state, handlers, DOCUMENT_HANDLERS, "onDocument"));
    }
  } catch (e) {
    try {
      rw.free();
    } catch {}
    dropInstance(loaded);
    throw e instanceof Error ? new TypeError(e.message) : e;
  }
  return rw;
}

export class HTMLRewriter {
  #elementHandlers = [];
  #documentHandlers = [];

  on(selector, handlers) {
    selector = String(selector);
    wrapHandlers(null, handlers, ELEMENT_HANDLERS, "on");
    // The selector is parsed now, as workerd does, on a throwaway rewriter.
    const loaded = load();
    makeRewriter(loaded, () => {}, [[selector, {}]], [], null).free();
    this.#elementHandlers.push([selector, handlers]);
    return this;
  }

  onDocument(handlers) {
    wrapHandlers(null, handlers, DOCUMENT_HANDLERS, "onDocument");
    this.#documentHandlers.push(handlers);
    return this;
  }

  transform(response) {
    if (!(response instanceof Response)) {
      throw new TypeError(
        "Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.",
      );
    }
    if (response.bodyUsed || response.body?.locked) {
      throw new TypeError("Body has already been used. It can only be used once. Use tee() first if you need to read it twice.");
    }
    const body = response.body;
    if (body === null) return new Response(null, response);

    const loaded = load();
    const state = { failed: false, error: undefined, freed: false, rewriter: null };
    let controller;
    const sink = (chunk) => {
      if (!state.failed && chunk.length !== 0) controller.enqueue(chunk);
    };
    state.rewriter = makeRewriter(loaded, sink, this.#elementHandlers, this.#documentHandlers, state);

    const free = () => {
      if (state.freed) return;
      state.freed = true;
      if (lib !== loaded && loaded !== null) return; // a dropped instance is left to the GC
      try {
        state.rewriter.free();
      } catch {}
    };
    // One write or end, in turn with every other rewriter of the context.
    const step = (fn) =>
      serialized(async () => {
        if (state.freed) throw state.failed ? state.error : new TypeError("HTMLRewriter: the transform was cancelled.");
        current = state;
        try {
          await fn(state.rewriter);
        } catch (e) {
          // Out of the WebAssembly side: not a handler's (guard keeps those).
          free();
          if (!state.failed) dropInstance(loaded);
          fail(state, e);
        } finally {
          current = null;
        }
        if (state.failed) {
          free();
          throw state.error;
        }
      });

    const stream = new TransformStream({
      start(c) {
        controller = c;
      },
      transform: (chunk) => step((rw) => rw.write(toBytes(chunk))),
      flush: () => step((rw) => rw.end()).then(() => serialized(free)),
    });
    body.pipeTo(stream.writable).then(
      () => {},
      () => serialized(free),
    );
    const out = new Response(stream.readable, response);
    out.headers.delete("content-length");
    return out;
  }
}

export function installHTMLRewriter(global, natives) {
  native = natives;
  Object.defineProperty(global, "HTMLRewriter", {
    value: HTMLRewriter,
    writable: true,
    configurable: true,
  });
}
