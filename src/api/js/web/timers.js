// setTimeout/setInterval/clearTimeout/clearInterval and queueMicrotask. The event loop lives in
// C++: native.setTimer(id, ms) arms a one-shot timer and, when it fires, C++ calls fireTimer(id),
// which runs the callback and re-arms intervals. Timer ids are numbers, unique per context.
import { native } from "./native.js";

const kMaxDelay = 2 ** 31 - 1;

const active = new Map(); // id -> { callback, args, delay, repeat }
let nextId = 1;

// Set by node:async_hooks once an AsyncLocalStorage exists: it binds a callback to the async
// context current when the callback is scheduled.
let wrapCallback = null;

export function setCallbackWrapper(wrap) {
  wrapCallback = wrap;
}

function normalizeDelay(delay, minimum) {
  const ms = Number(delay);
  if (!(ms >= minimum)) return minimum; // also NaN
  return Math.min(ms, kMaxDelay);
}

function schedule(callback, delay, args, repeat, where) {
  if (typeof callback !== "function") {
    throw new TypeError(`${where}: the callback must be a function (strings are not evaluated)`);
  }
  if (wrapCallback !== null) callback = wrapCallback(callback);
  const id = nextId++;
  // A 0 ms interval would re-fire on every loop turn; like Node, run it at most once per ms.
  const timer = { callback, args, delay: normalizeDelay(delay, repeat ? 1 : 0), repeat };
  active.set(id, timer);
  native.setTimer(id, timer.delay);
  return id;
}

export function setTimeout(callback, delay = 0, ...args) {
  return schedule(callback, delay, args, false, "setTimeout");
}

export function setInterval(callback, delay = 0, ...args) {
  return schedule(callback, delay, args, true, "setInterval");
}

export function clearTimeout(id = undefined) {
  const key = Number(id);
  if (active.delete(key)) native.clearTimer(key);
}

export const clearInterval = clearTimeout;

// Called by C++ when timer `id` fires. Errors from the callback propagate to the caller, which
// reports them; an interval is re-armed either way unless the callback cleared it.
export function fireTimer(id) {
  const timer = active.get(id);
  if (timer === undefined) return;
  if (!timer.repeat) active.delete(id);
  try {
    timer.callback.apply(globalThis, timer.args);
  } finally {
    if (timer.repeat && active.get(id) === timer) native.setTimer(id, timer.delay);
  }
}

export function queueMicrotask(callback) {
  if (typeof callback !== "function") {
    throw new TypeError("queueMicrotask: the callback provided as parameter 1 is not a function");
  }
  native.queueMicrotask(wrapCallback === null ? callback : wrapCallback(callback));
}
