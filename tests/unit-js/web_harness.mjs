// A fake `native` built on Node's own APIs, and a fresh global with the web APIs installed on it.
// Timers never fire by themselves: tests call fireTimer() to step the fake loop.
import { Buffer } from "node:buffer";
import { randomFillSync, randomUUID } from "node:crypto";
import { domainToASCII } from "node:url";
import * as v8 from "node:v8";
import { installWebApis } from "../../src/api/js/web/index.js";

export * from "../../src/api/js/web/index.js";

const NodeTextDecoder = globalThis.TextDecoder;
const NodeTextEncoder = globalThis.TextEncoder;

// `realm` supplies the Uint8Array constructor of the context the natives serve, so byte arrays
// are created there as partyd's C++ natives do (defaults to this realm).
export function makeFakeNative(realm = globalThis) {
  const fake = {
    logs: [], // [level, text]
    timers: new Map(), // id -> delay of armed timers
    clock: 1000,
    utf8Encode: (s) => new realm.Uint8Array(Buffer.from(s, "utf8")),
    utf8EncodeInto: (s, u8) => {
      const { read, written } = new NodeTextEncoder().encodeInto(s, u8);
      return [read, written];
    },
    utf8Decode: (u8, fatal) => new NodeTextDecoder("utf-8", { fatal, ignoreBOM: true }).decode(u8),
    // partyd's ICU decoders and UTS #46 (web_natives.cc), here on Node's own ICU.
    textDecoderOpen: (name, fatal) => new NodeTextDecoder(name, { fatal, ignoreBOM: true }),
    textDecoderDecode: (decoder, u8, flush) => decoder.decode(u8, { stream: !flush }),
    domainToASCII: (domain) => domainToASCII(domain) || null,
    serialize: (value) => {
      const b = v8.serialize(value);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    },
    deserialize: (ab) => v8.deserialize(Buffer.from(ab)),
    // Node's structuredClone stands in for partyd's (src/api/stream_natives.cc): a clone error
    // becomes what makeError builds, anything else (a getter's exception) passes through.
    cloneValue: (value, transfer, makeError) => {
      try {
        return structuredClone(value, { transfer });
      } catch (e) {
        if (e?.name === "DataCloneError") throw makeError(e.message);
        throw e;
      }
    },
    arrayBufferDetached: (ab) => {
      try {
        new Uint8Array(ab);
        return false;
      } catch {
        return true;
      }
    },
    randomFill: (u8) => void randomFillSync(u8),
    randomUUID: () => randomUUID(),
    now: () => fake.clock,
    log: (level, text) => void fake.logs.push([level, text]),
    setTimer: (id, ms) => void fake.timers.set(id, ms),
    clearTimer: (id) => void fake.timers.delete(id),
    queueMicrotask: (fn) => queueMicrotask(fn),
  };
  return fake;
}

export const native = makeFakeNative();
export const g = installWebApis({}, native);

export function takeLogs() {
  return native.logs.splice(0);
}

// Resolves after pending promise jobs have run.
export function flushMicrotasks() {
  return new Promise((resolve) => setImmediate(resolve));
}
