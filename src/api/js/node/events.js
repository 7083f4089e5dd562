// node:events: the npm `events` package (Node's EventEmitter, ported for browsers), plus
// errorMonitor, events.on and the other static helpers it lacks. Loaded on first use.
import { invalidArgType, withStandIns } from "./common.js";

const kNames = [
  "EventEmitter", "EventEmitterAsyncResource", "addAbortListener", "captureRejectionSymbol",
  "captureRejections", "defaultMaxListeners", "errorMonitor", "getEventListeners",
  "getMaxListeners", "init", "listenerCount", "on", "once", "setMaxListeners", "usingDomains",
];

function abortError(signal) {
  const e = new DOMException("The operation was aborted", "AbortError");
  e.cause = signal.reason;
  return e;
}

// events.on(emitter, event, { signal }): an async iterator of each emission's arguments; an
// 'error' emission (EventEmitter) or an abort ends it by rejecting the pending next().
function on(emitter, event, options = {}) {
  const signal = options?.signal;
  if (signal?.aborted) throw abortError(signal);
  const queued = [];
  const waiting = [];
  let error = null;
  let finished = false;
  const target = typeof emitter?.on === "function" ? "emitter" : "target";
  if (target === "target" && typeof emitter?.addEventListener !== "function") {
    throw invalidArgType("emitter", "an instance of EventEmitter or EventTarget", emitter);
  }
  const onEvent = (...args) => {
    const next = waiting.shift();
    if (next) next.resolve({ value: args, done: false });
    else queued.push(args);
  };
  const onError = (err) => {
    finished = true;
    const next = waiting.shift();
    if (next) next.reject(err);
    else error = err;
    iterator.return();
  };
  const onAbort = () => onError(abortError(signal));
  const cleanup = () => {
    if (target === "emitter") {
      emitter.removeListener(event, onEvent);
      emitter.removeListener("error", onError);
    } else {
      emitter.removeEventListener(event, onEvent);
    }
    signal?.removeEventListener("abort", onAbort);
  };
  const iterator = {
    next() {
      if (queued.length > 0) return Promise.resolve({ value: queued.shift(), done: false });
      if (error !== null) {
        const e = error;
        error = null;
        return Promise.reject(e);
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return() {
      cleanup();
      finished = true;
      for (const next of waiting.splice(0)) next.resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err) {
      error = err;
      cleanup();
      return Promise.reject(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  if (target === "emitter") {
    emitter.on(event, onEvent);
    if (event !== "error") emitter.on("error", onError);
  } else {
    emitter.addEventListener(event, onEvent);
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  return iterator;
}

let cached = null;

export function eventsModule() {
  if (cached === null) cached = create();
  return cached;
}

function create() {
  const EventEmitter = require("events");
  const errorMonitor = Symbol("events.errorMonitor");
  // 'error' listeners under errorMonitor see the error first and do not count as handling it.
  const { emit } = EventEmitter.prototype;
  EventEmitter.prototype.emit = function (type, ...args) {
    if (type === "error" && this._events !== undefined && this._events[errorMonitor] !== undefined) {
      emit.call(this, errorMonitor, ...args);
    }
    return emit.call(this, type, ...args);
  };
  const isEventTarget = (x) => x !== null && typeof x === "object" && typeof x.addEventListener === "function";
  Object.assign(EventEmitter, {
    errorMonitor,
    captureRejectionSymbol: Symbol.for("nodejs.rejection"),
    captureRejections: false,
    usingDomains: false,
    getEventListeners(emitter, name) {
      if (typeof emitter?.listeners === "function") return emitter.listeners(name);
      throw invalidArgType("emitter", "an instance of EventEmitter", emitter);
    },
    getMaxListeners(emitter) {
      if (typeof emitter?.getMaxListeners === "function") return emitter.getMaxListeners();
      if (isEventTarget(emitter)) return EventEmitter.defaultMaxListeners;
      throw invalidArgType("emitter", "an instance of EventEmitter or EventTarget", emitter);
    },
    setMaxListeners(n = EventEmitter.defaultMaxListeners, ...emitters) {
      if (emitters.length === 0) EventEmitter.defaultMaxListeners = n;
      for (const emitter of emitters) {
        if (typeof emitter?.setMaxListeners === "function") emitter.setMaxListeners(n);
        else if (!isEventTarget(emitter)) {
          throw invalidArgType("eventTargets", "an instance of EventEmitter or EventTarget", emitter);
        }
      }
    },
    on,
    addAbortListener(signal, listener) {
      if (signal?.aborted) {
        queueMicrotask(() => listener());
      } else {
        signal.addEventListener("abort", listener, { once: true });
      }
      return { [Symbol.dispose ?? Symbol.for("nodejs.dispose")]() { signal.removeEventListener("abort", listener); } };
    },
  });
  return withStandIns("events", EventEmitter, kNames);
}
