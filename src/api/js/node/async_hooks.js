// node:async_hooks: AsyncLocalStorage and AsyncResource over async_context.js. The low-level
// hooks API (createHook, executionAsyncId, ...) is not there: those names throw.
import { invalidArgType, withStandIns } from "./common.js";
import { currentFrame, enable, enterFrame, runInFrame } from "./async_context.js";

const kNames = [
  "AsyncLocalStorage", "AsyncResource", "asyncWrapProviders", "createHook", "executionAsyncId",
  "executionAsyncResource", "triggerAsyncId",
];

function checkFunction(fn, name) {
  if (typeof fn !== "function") throw invalidArgType(name, "of type function", fn);
}

function withStore(frame, storage, store) {
  const next = new Map(frame);
  next.set(storage, store);
  return next;
}

function withoutStore(frame, storage) {
  if (frame === undefined || !frame.has(storage)) return frame;
  const next = new Map(frame);
  next.delete(storage);
  return next.size === 0 ? undefined : next;
}

export class AsyncLocalStorage {
  constructor() {
    enable();
  }

  getStore() {
    const frame = currentFrame();
    return frame === undefined ? undefined : frame.get(this);
  }

  run(store, callback, ...args) {
    return runInFrame(withStore(currentFrame(), this, store), callback, undefined, args);
  }

  exit(callback, ...args) {
    return runInFrame(withoutStore(currentFrame(), this), callback, undefined, args);
  }

  enterWith(store) {
    enterFrame(withStore(currentFrame(), this, store));
  }

  disable() {
    const frame = withoutStore(currentFrame(), this);
    if (frame !== currentFrame()) enterFrame(frame);
  }

  static bind(fn) {
    checkFunction(fn, "fn");
    return new AsyncResource("bound-anonymous-fn").bind(fn);
  }

  static snapshot() {
    const frame = currentFrame();
    return (fn, ...args) => runInFrame(frame, fn, undefined, args);
  }
}

const kFrame = Symbol("frame");

export class AsyncResource {
  constructor(type, options) {
    if (typeof type !== "string") throw invalidArgType("type", "of type string", type);
    this[kFrame] = currentFrame();
  }

  runInAsyncScope(fn, thisArg, ...args) {
    return runInFrame(this[kFrame], fn, thisArg, args);
  }

  bind(fn, thisArg) {
    checkFunction(fn, "fn");
    const resource = this;
    const bound = thisArg === undefined
      ? function (...args) { return resource.runInAsyncScope(fn, this, ...args); }
      : (...args) => resource.runInAsyncScope(fn, thisArg, ...args);
    Object.defineProperties(bound, {
      length: { value: fn.length, configurable: true },
      asyncResource: { value: resource, configurable: true, enumerable: true, writable: true },
    });
    return bound;
  }

  emitDestroy() {
    return this;
  }

  static bind(fn, type, thisArg) {
    checkFunction(fn, "fn");
    return new AsyncResource(type || fn.name || "bound-anonymous-fn").bind(fn, thisArg);
  }
}

let cached = null;

export function asyncHooksModule() {
  if (cached === null) cached = withStandIns("async_hooks", { AsyncLocalStorage, AsyncResource }, kNames);
  return cached;
}
