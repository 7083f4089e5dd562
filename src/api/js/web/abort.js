// AbortController and AbortSignal (DOM Standard), including AbortSignal.timeout() and
// AbortSignal.any(). Other web APIs (streams, Request, event listeners) hook into a signal through
// addAbortAlgorithm(), which runs before the 'abort' event is fired.
import { DOMException } from "./dom_exception.js";
import { reportException } from "./console.js";
import { Event, EventTarget, defineEventHandler, setAbortSignalCheck } from "./events.js";
import { setTimeout } from "./timers.js";
import {
  defineToStringTag,
  illegalConstructor,
  inspectSymbol,
  makeEnumerable,
  requireArgs,
} from "./util.js";

const kCreate = Symbol("create");

let internals;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #algorithms = new Set();
  #dependents = null; // WeakRefs to signals created by any() that follow this one
  #sources = null; // for a dependent signal: the non-dependent signals it follows

  constructor(token) {
    if (token !== kCreate) illegalConstructor();
    super();
  }

  get aborted() {
    return this.#aborted;
  }

  get reason() {
    return this.#reason;
  }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  [inspectSymbol]() {
    return `AbortSignal { aborted: ${this.#aborted} }`;
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(kCreate);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? defaultReason() : reason;
    return signal;
  }

  static timeout(milliseconds) {
    requireArgs(arguments.length, 1, "AbortSignal.timeout");
    const ms = Number(milliseconds);
    if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
      throw new TypeError("AbortSignal.timeout: milliseconds must be a non-negative integer");
    }
    const signal = new AbortSignal(kCreate);
    setTimeout(() => {
      signalAbort(signal, new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    }, Math.trunc(ms));
    return signal;
  }

  static any(signals) {
    requireArgs(arguments.length, 1, "AbortSignal.any");
    const list = [...signals];
    for (const source of list) {
      if (!(source instanceof AbortSignal)) {
        throw new TypeError("AbortSignal.any: every element must be an AbortSignal");
      }
      if (source.#aborted) return AbortSignal.abort(source.#reason);
    }
    const signal = new AbortSignal(kCreate);
    signal.#sources = [];
    const ref = new WeakRef(signal);
    for (const source of list) {
      for (const root of source.#sources ?? [source]) {
        if (signal.#sources.includes(root)) continue;
        signal.#sources.push(root);
        (root.#dependents ??= []).push(ref);
      }
    }
    return signal;
  }

  static {
    internals = {
      create: () => new AbortSignal(kCreate),
      isSignal: (value) => value !== null && typeof value === "object" && #aborted in value,
      addAlgorithm(signal, algorithm) {
        signal.#algorithms.add(algorithm);
        return () => signal.#algorithms.delete(algorithm);
      },
      abort(signal, reason) {
        if (signal.#aborted) return;
        signal.#aborted = true;
        signal.#reason = reason === undefined ? defaultReason() : reason;
        // Mark every follower aborted first, so none observes a half-aborted state.
        const followers = [];
        for (const ref of signal.#dependents ?? []) {
          const follower = ref.deref();
          if (follower === undefined || follower.#aborted) continue;
          follower.#aborted = true;
          follower.#reason = signal.#reason;
          followers.push(follower);
        }
        signal.#dependents = null;
        runAbortSteps(signal);
        followers.forEach(runAbortSteps);
      },
      runAlgorithms(signal) {
        const algorithms = [...signal.#algorithms];
        signal.#algorithms.clear();
        for (const algorithm of algorithms) {
          try {
            algorithm();
          } catch (error) {
            reportException(error);
          }
        }
      },
    };
  }
}
defineEventHandler(AbortSignal.prototype, "abort");
defineToStringTag(AbortSignal);
makeEnumerable(AbortSignal, ["aborted", "reason", "throwIfAborted"]);
setAbortSignalCheck(internals.isSignal);

function defaultReason() {
  return new DOMException("This operation was aborted", "AbortError");
}

function runAbortSteps(signal) {
  internals.runAlgorithms(signal);
  signal.dispatchEvent(new Event("abort"));
}

export const createAbortSignal = () => internals.create();
export const isAbortSignal = (value) => internals.isSignal(value);
export const signalAbort = (signal, reason) => internals.abort(signal, reason);
// Runs `algorithm` when `signal` aborts; returns a function that unregisters it.
export const addAbortAlgorithm = (signal, algorithm) => internals.addAlgorithm(signal, algorithm);

export class AbortController {
  #signal = createAbortSignal();

  get signal() {
    return this.#signal;
  }

  abort(reason = undefined) {
    signalAbort(this.#signal, reason);
  }
}
defineToStringTag(AbortController);
makeEnumerable(AbortController, ["signal", "abort"]);
