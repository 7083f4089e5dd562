// Pieces shared by the WHATWG Streams classes: deferred promises, queue-with-sizes, strategy
// conversion and the two queuing strategy classes.
import { defineToStringTag, makeEnumerable, requireArgs } from "./util.js";

// A promise with its resolve/reject functions and a `settled` flag.
export function deferred() {
  const d = { promise: null, resolve: null, reject: null, settled: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (value) => {
      d.settled = true;
      resolve(value);
    };
    d.reject = (error) => {
      d.settled = true;
      reject(error);
    };
  });
  return d;
}

// A promise rejection that nobody may ever observe must not be reported as unhandled.
export function markHandled(promise) {
  promise.then(undefined, () => {});
  return promise;
}

export function rejected(error) {
  return Promise.reject(error);
}

// Calls `method` on `object` (if present) and always returns a promise.
export function promiseCall(method, object, ...args) {
  if (method === undefined) return Promise.resolve(undefined);
  try {
    return Promise.resolve(method.apply(object, args));
  } catch (error) {
    return Promise.reject(error);
  }
}

// Reads an optional method from a dictionary, as WebIDL callback members.
export function getMethod(dict, name, where) {
  const method = dict[name];
  if (method === undefined) return undefined;
  if (typeof method !== "function") throw new TypeError(`${where}: ${name} must be a function`);
  return method;
}

// ---------------------------------------------------------------------------------------------
// Queue with sizes: `container` has `queue` (array of { value, size }) and `queueTotalSize`.

export function enqueueValueWithSize(container, value, size) {
  if (typeof size !== "number" || !(size >= 0) || size === Infinity) {
    throw new RangeError("The chunk size must be a finite, non-negative number");
  }
  container.queue.push({ value, size });
  container.queueTotalSize += size;
}

export function dequeueValue(container) {
  const { value, size } = container.queue.shift();
  container.queueTotalSize = Math.max(0, container.queueTotalSize - size);
  return value;
}

export function resetQueue(container) {
  container.queue = [];
  container.queueTotalSize = 0;
}

// ---------------------------------------------------------------------------------------------
// Strategies

export function extractHighWaterMark(strategy, defaultHWM) {
  const hwm = strategy?.highWaterMark;
  if (hwm === undefined) return defaultHWM;
  const n = Number(hwm);
  if (Number.isNaN(n) || n < 0) throw new RangeError("highWaterMark must be a non-negative number");
  return n;
}

export function extractSizeAlgorithm(strategy) {
  const size = strategy?.size;
  if (size === undefined) return () => 1;
  if (typeof size !== "function") throw new TypeError("strategy.size must be a function");
  return (chunk) => size(chunk);
}

export class CountQueuingStrategy {
  #highWaterMark;

  constructor(init) {
    requireArgs(arguments.length, 1, "CountQueuingStrategy constructor");
    if (init?.highWaterMark === undefined) {
      throw new TypeError("CountQueuingStrategy: highWaterMark is required");
    }
    this.#highWaterMark = Number(init.highWaterMark);
  }

  get highWaterMark() {
    return this.#highWaterMark;
  }

  get size() {
    return countSize;
  }
}
const countSize = function size() {
  return 1;
};
defineToStringTag(CountQueuingStrategy);
makeEnumerable(CountQueuingStrategy, ["highWaterMark", "size"]);

export class ByteLengthQueuingStrategy {
  #highWaterMark;

  constructor(init) {
    requireArgs(arguments.length, 1, "ByteLengthQueuingStrategy constructor");
    if (init?.highWaterMark === undefined) {
      throw new TypeError("ByteLengthQueuingStrategy: highWaterMark is required");
    }
    this.#highWaterMark = Number(init.highWaterMark);
  }

  get highWaterMark() {
    return this.#highWaterMark;
  }

  get size() {
    return byteLengthSize;
  }
}
const byteLengthSize = function size(chunk) {
  return chunk.byteLength;
};
defineToStringTag(ByteLengthQueuingStrategy);
makeEnumerable(ByteLengthQueuingStrategy, ["highWaterMark", "size"]);
