// Event, EventTarget and the event types that party code meets (CustomEvent, MessageEvent,
// CloseEvent, ErrorEvent), per the DOM Standard minus the tree: every dispatch has a path of one
// target. Also owns defineEventHandler(), the `onfoo` attribute machinery that AbortSignal and
// WebSocket use.
import { native } from "./native.js";
import { DOMException } from "./dom_exception.js";
import { reportException } from "./console.js";
import { defineToStringTag, inspectSymbol, makeEnumerable, requireArgs } from "./util.js";

const NONE = 0;
const CAPTURING_PHASE = 1;
const AT_TARGET = 2;
const BUBBLING_PHASE = 3;

// Filled in by Event's static block: the internal hooks dispatch needs.
let eventInternals;

export class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #timeStamp;
  #target = null;
  #currentTarget = null;
  #phase = NONE;
  #canceled = false;
  #stopPropagation = false;
  #stopImmediate = false;
  #inPassiveListener = false;
  #dispatching = false;

  constructor(type, eventInitDict = {}) {
    requireArgs(arguments.length, 1, "Event constructor");
    this.#type = String(type);
    const init = eventInitDict ?? {};
    this.#bubbles = Boolean(init.bubbles);
    this.#cancelable = Boolean(init.cancelable);
    this.#composed = Boolean(init.composed);
    this.#timeStamp = native ? native.now() : 0;
  }

  get type() {
    return this.#type;
  }
  get target() {
    return this.#target;
  }
  get srcElement() {
    return this.#target;
  }
  get currentTarget() {
    return this.#currentTarget;
  }
  get eventPhase() {
    return this.#phase;
  }
  get bubbles() {
    return this.#bubbles;
  }
  get cancelable() {
    return this.#cancelable;
  }
  get composed() {
    return this.#composed;
  }
  get defaultPrevented() {
    return this.#canceled;
  }
  get returnValue() {
    return !this.#canceled;
  }
  set returnValue(value) {
    if (!value) this.preventDefault();
  }
  get cancelBubble() {
    return this.#stopPropagation;
  }
  set cancelBubble(value) {
    if (value) this.#stopPropagation = true;
  }
  get isTrusted() {
    return false;
  }
  get timeStamp() {
    return this.#timeStamp;
  }

  composedPath() {
    return this.#dispatching && this.#currentTarget !== null ? [this.#currentTarget] : [];
  }
  stopPropagation() {
    this.#stopPropagation = true;
  }
  stopImmediatePropagation() {
    this.#stopPropagation = true;
    this.#stopImmediate = true;
  }
  preventDefault() {
    if (this.#cancelable && !this.#inPassiveListener) this.#canceled = true;
  }
  [inspectSymbol](depth, options, inspect) {
    const fields = {
      type: this.#type,
      defaultPrevented: this.#canceled,
      cancelable: this.#cancelable,
      timeStamp: this.#timeStamp,
    };
    return `${this.constructor.name} ${inspect(fields, options)}`;
  }

  initEvent(type, bubbles = false, cancelable = false) {
    if (this.#dispatching) return;
    this.#type = String(type);
    this.#bubbles = Boolean(bubbles);
    this.#cancelable = Boolean(cancelable);
    this.#stopPropagation = this.#stopImmediate = this.#canceled = false;
    this.#target = null;
  }

  static {
    eventInternals = {
      isEvent: (e) => #type in e,
      isDispatching: (e) => e.#dispatching,
      begin(e, target) {
        e.#dispatching = true;
        e.#target = target;
        e.#currentTarget = target;
      },
      setPhase(e, phase) {
        e.#phase = phase;
      },
      setPassive(e, passive) {
        e.#inPassiveListener = passive;
      },
      stoppedImmediately: (e) => e.#stopImmediate,
      end(e) {
        e.#dispatching = false;
        e.#phase = NONE;
        e.#currentTarget = null;
        e.#stopPropagation = false;
        e.#stopImmediate = false;
        return !e.#canceled;
      },
    };
  }
}
for (const [name, value] of Object.entries({ NONE, CAPTURING_PHASE, AT_TARGET, BUBBLING_PHASE })) {
  Object.defineProperty(Event, name, { value, enumerable: true });
  Object.defineProperty(Event.prototype, name, { value, enumerable: true });
}
defineToStringTag(Event);
makeEnumerable(Event, [
  "type", "target", "srcElement", "currentTarget", "eventPhase", "bubbles", "cancelable",
  "composed", "defaultPrevented", "returnValue", "cancelBubble", "isTrusted", "timeStamp",
  "composedPath", "stopPropagation", "stopImmediatePropagation", "preventDefault", "initEvent",
]);

// ---------------------------------------------------------------------------------------------

function flattenOptions(options) {
  if (typeof options === "boolean") return { capture: options };
  if (options === null || typeof options !== "object") return { capture: false };
  return options;
}

// Whether a dispatch of `type` on `target` would reach anyone: lets hot paths (a WebSocket
// message) skip building an Event nobody listens for. Set in EventTarget's static block.
export let hasListeners;

export class EventTarget {
  // type -> array of { callback, capture, once, passive, removed }; made on the first listener,
  // since most targets (every Connection of a room) never get one.
  #listeners = null;
  static {
    hasListeners = (target, type) => target.#listeners?.has(type) === true;
  }

  addEventListener(type, callback, options = {}) {
    requireArgs(arguments.length, 2, "EventTarget.addEventListener");
    if (callback === null || callback === undefined) return;
    if (typeof callback !== "function" && typeof callback !== "object") {
      throw new TypeError("EventTarget.addEventListener: the listener must be a function or object");
    }
    type = String(type);
    const flat = flattenOptions(options);
    const capture = Boolean(flat.capture);
    const once = Boolean(flat.once);
    const passive = Boolean(flat.passive);
    const signal = flat.signal;
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw new TypeError("EventTarget.addEventListener: options.signal must be an AbortSignal");
    }
    if (signal?.aborted) return;
    this.#listeners ??= new Map();
    let list = this.#listeners.get(type);
    if (list === undefined) this.#listeners.set(type, (list = []));
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const listener = { callback, capture, once, passive, removed: false };
    list.push(listener);
    if (signal !== undefined) {
      signal.addEventListener("abort", () => this.#remove(type, listener));
    }
  }

  removeEventListener(type, callback, options = {}) {
    requireArgs(arguments.length, 2, "EventTarget.removeEventListener");
    const capture = Boolean(flattenOptions(options).capture);
    const list = this.#listeners?.get(String(type));
    const listener = list?.find((l) => l.callback === callback && l.capture === capture);
    if (listener) this.#remove(String(type), listener);
  }

  #remove(type, listener) {
    listener.removed = true;
    const list = this.#listeners?.get(type);
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(type);
  }

  dispatchEvent(event) {
    requireArgs(arguments.length, 1, "EventTarget.dispatchEvent");
    if (!isEvent(event)) throw new TypeError("EventTarget.dispatchEvent: argument is not an Event");
    if (eventInternals.isDispatching(event)) {
      throw new DOMException("The event is already being dispatched.", "InvalidStateError");
    }
    eventInternals.begin(event, this);
    eventInternals.setPhase(event, AT_TARGET);
    // The path holds only this target: capture listeners run first, then the others.
    const listeners = (this.#listeners?.get(event.type) ?? []).slice();
    this.#invoke(event, listeners, true);
    this.#invoke(event, listeners, false);
    return eventInternals.end(event);
  }

  #invoke(event, listeners, capturePhase) {
    for (const listener of listeners) {
      if (eventInternals.stoppedImmediately(event)) return;
      if (listener.removed || listener.capture !== capturePhase) continue;
      if (listener.once) this.#remove(event.type, listener);
      eventInternals.setPassive(event, listener.passive);
      try {
        const { callback } = listener;
        if (typeof callback === "function") {
          callback.call(this, event);
        } else {
          const handleEvent = callback.handleEvent;
          if (typeof handleEvent !== "function") {
            throw new TypeError("The listener's handleEvent is not a function");
          }
          handleEvent.call(callback, event);
        }
      } catch (error) {
        reportException(error);
      } finally {
        eventInternals.setPassive(event, false);
      }
    }
  }
}
defineToStringTag(EventTarget);
makeEnumerable(EventTarget, ["addEventListener", "removeEventListener", "dispatchEvent"]);

export function isEvent(value) {
  return value !== null && typeof value === "object" && eventInternals.isEvent(value);
}

// AbortSignal lives in abort.js and imports this file; the check is late-bound to avoid a cycle.
let abortSignalCheck = () => false;
export function setAbortSignalCheck(check) {
  abortSignalCheck = check;
}
function isAbortSignal(value) {
  return abortSignalCheck(value);
}

// ---------------------------------------------------------------------------------------------
// Event handler attributes (`target.onabort = fn`). The listener is registered at the first
// non-null assignment and keeps that place in the listener order; assigning null removes it.

const handlerState = new WeakMap(); // target -> Map(type -> { value, listener })

export function defineEventHandler(proto, type) {
  Object.defineProperty(proto, `on${type}`, {
    enumerable: true,
    configurable: true,
    get() {
      return handlerState.get(this)?.get(type)?.value ?? null;
    },
    set(value) {
      let handlers = handlerState.get(this);
      if (handlers === undefined) handlerState.set(this, (handlers = new Map()));
      const current = handlers.get(type);
      if (typeof value !== "function" && (typeof value !== "object" || value === null)) {
        if (current !== undefined) {
          this.removeEventListener(type, current.listener);
          handlers.delete(type);
        }
        return;
      }
      if (current !== undefined) {
        current.value = value;
        return;
      }
      const entry = { value, listener: null };
      entry.listener = function (event) {
        const handler = entry.value;
        if (typeof handler !== "function") return;
        const result = handler.call(this, event);
        if (result === false && type !== "error") event.preventDefault();
      };
      handlers.set(type, entry);
      this.addEventListener(type, entry.listener);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Event subclasses

export class CustomEvent extends Event {
  #detail;
  constructor(type, eventInitDict = {}) {
    requireArgs(arguments.length, 1, "CustomEvent constructor");
    super(type, eventInitDict);
    this.#detail = eventInitDict?.detail ?? null;
  }
  get detail() {
    return this.#detail;
  }
}
defineToStringTag(CustomEvent);
makeEnumerable(CustomEvent, ["detail"]);

export class MessageEvent extends Event {
  #data;
  #origin;
  #lastEventId;
  #source;
  #ports;
  constructor(type, eventInitDict = {}) {
    requireArgs(arguments.length, 1, "MessageEvent constructor");
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    this.#data = init.data ?? null;
    this.#origin = init.origin === undefined ? "" : String(init.origin);
    this.#lastEventId = init.lastEventId === undefined ? "" : String(init.lastEventId);
    this.#source = init.source ?? null;
    this.#ports = Object.freeze(init.ports === undefined ? [] : [...init.ports]);
  }
  get data() {
    return this.#data;
  }
  get origin() {
    return this.#origin;
  }
  get lastEventId() {
    return this.#lastEventId;
  }
  get source() {
    return this.#source;
  }
  get ports() {
    return this.#ports;
  }
}
defineToStringTag(MessageEvent);
makeEnumerable(MessageEvent, ["data", "origin", "lastEventId", "source", "ports"]);

export class CloseEvent extends Event {
  #wasClean;
  #code;
  #reason;
  constructor(type, eventInitDict = {}) {
    requireArgs(arguments.length, 1, "CloseEvent constructor");
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    this.#wasClean = Boolean(init.wasClean);
    this.#code = init.code === undefined ? 0 : Number(init.code) & 0xffff;
    this.#reason = init.reason === undefined ? "" : String(init.reason);
  }
  get wasClean() {
    return this.#wasClean;
  }
  get code() {
    return this.#code;
  }
  get reason() {
    return this.#reason;
  }
}
defineToStringTag(CloseEvent);
makeEnumerable(CloseEvent, ["wasClean", "code", "reason"]);

export class ErrorEvent extends Event {
  #message;
  #filename;
  #lineno;
  #colno;
  #error;
  constructor(type, eventInitDict = {}) {
    requireArgs(arguments.length, 1, "ErrorEvent constructor");
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    this.#message = init.message === undefined ? "" : String(init.message);
    this.#filename = init.filename === undefined ? "" : String(init.filename);
    this.#lineno = init.lineno === undefined ? 0 : Number(init.lineno) >>> 0;
    this.#colno = init.colno === undefined ? 0 : Number(init.colno) >>> 0;
    this.#error = init.error;
  }
  get message() {
    return this.#message;
  }
  get filename() {
    return this.#filename;
  }
  get lineno() {
    return this.#lineno;
  }
  get colno() {
    return this.#colno;
  }
  get error() {
    return this.#error;
  }
}
defineToStringTag(ErrorEvent);
makeEnumerable(ErrorEvent, ["message", "filename", "lineno", "colno", "error"]);
