// node:events: the npm `events` package (Node's EventEmitter, ported for browsers), plus
// errorMonitor and the static helpers it lacks. Loaded on first use.
import { invalidArgType, withStandIns } from "./common.js";

const kNames = [
  "EventEmitter", "EventEmitterAsyncResource", "addAbortListener", "captureRejectionSymbol",
  "captureRejections", "defaultMaxListeners", "errorMonitor", "getEventListeners",
  "getMaxListeners", "init", "listenerCount", "on", "once", "setMaxListeners", "usingDomains",
];

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
