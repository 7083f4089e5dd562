// The async context that AsyncLocalStorage reads: one current frame (an immutable Map from
// AsyncLocalStorage to its store, or undefined) that follows the code across await, promise
// reactions, timers and queueMicrotask.
//
// Promises carry it through V8's promise hooks: a promise created while a frame is current
// (the one an `await` or a `.then()` makes) remembers it, and its reaction job runs with it.
// Timers and microtasks carry it by wrapping their callback when they are scheduled. Both are
// switched on by the first AsyncLocalStorage (enable()), so code that never makes one pays
// nothing.
import { native } from "../web/native.js";
import { setCallbackWrapper } from "../web/timers.js";

let current;
let enabled = false;
const frames = new WeakMap(); // promise -> the frame current when it was created
const saved = []; // frames to go back to after each running reaction job

function init(promise) {
  if (current !== undefined) frames.set(promise, current);
}
function before(promise) {
  saved.push(current);
  current = frames.get(promise);
}
function after() {
  current = saved.pop();
}

// A callback that runs with the frame current now (the callback itself when there is none).
export function wrapInCurrent(callback) {
  if (current === undefined) return callback;
  const frame = current;
  return function (...args) {
    return runInFrame(frame, callback, this, args);
  };
}

export function enable() {
  if (enabled) return;
  enabled = true;
  native.nodeSetPromiseHooks(init, before, after, undefined);
  setCallbackWrapper(wrapInCurrent);
}

// Back to no frame, with no reaction job running: C++ calls this (as the entry point
// asyncContextReset) after it stopped a handler that overran its budget, since a stopped run
// skips the `finally` and the `after` hook that would have put the frame back.
export function resetAsyncContext() {
  current = undefined;
  saved.length = 0;
}

export function currentFrame() {
  return current;
}

export function runInFrame(frame, fn, thisArg, args) {
  const previous = current;
  current = frame;
  try {
    return Reflect.apply(fn, thisArg, args);
  } finally {
    current = previous;
  }
}

// Sets the frame for the rest of this synchronous run: a microtask queued now puts back the
// frame of the loop's top level (none) once it ends; promises made until then keep `frame`.
let resetQueued = false;
export function enterFrame(frame) {
  current = frame;
  if (!resetQueued) {
    resetQueued = true;
    native.queueMicrotask(() => {
      resetQueued = false;
      current = undefined;
    });
  }
}
