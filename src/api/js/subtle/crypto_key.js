// CryptoKey: type, extractable, algorithm and usages of a key, plus the native handle that holds
// its material (see api/crypto_natives.h). Party code cannot construct one or reach the handle.
import { defineToStringTag, illegalConstructor, inspectSymbol, makeEnumerable } from "../web/util.js";

const kToken = Symbol("CryptoKey");

// The order of the KeyUsage enum; usages are kept deduplicated in this order, as browsers do.
export const kUsageOrder = [
  "encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey",
];

let internals;

export class CryptoKey {
  #type;
  #extractable;
  #algorithm; // what the operations read; never handed out
  #usages;
  #handle;
  #publicAlgorithm;
  #publicUsages;

  constructor(token, type, extractable, algorithm, usages, handle) {
    if (token !== kToken) illegalConstructor();
    this.#type = type;
    this.#extractable = extractable;
    this.#algorithm = algorithm;
    this.#usages = usages;
    this.#handle = handle;
  }

  get type() {
    return this.#type;
  }

  get extractable() {
    return this.#extractable;
  }

  // The same object on every read (WebCrypto caches it); changing it changes nothing.
  get algorithm() {
    return (this.#publicAlgorithm ??= cloneAlgorithm(this.#algorithm));
  }

  get usages() {
    return (this.#publicUsages ??= [...this.#usages]);
  }

  [inspectSymbol]() {
    const { type, extractable, algorithm, usages } = this;
    return { type, extractable, algorithm, usages };
  }

  static {
    internals = (key) => {
      if (typeof key !== "object" || key === null || !(#handle in key)) return null;
      return {
        type: key.#type,
        extractable: key.#extractable,
        algorithm: key.#algorithm,
        usages: key.#usages,
        handle: key.#handle,
      };
    };
  }
}
defineToStringTag(CryptoKey);
makeEnumerable(CryptoKey, ["type", "extractable", "algorithm", "usages"]);

function cloneAlgorithm(algorithm) {
  const out = { ...algorithm };
  if (out.hash) out.hash = { ...out.hash };
  if (out.publicExponent) out.publicExponent = out.publicExponent.slice();
  return out;
}

export function newKey(type, extractable, algorithm, usages, handle) {
  return new CryptoKey(kToken, type, extractable, algorithm, usages, handle);
}

// The internal slots of a CryptoKey, or a TypeError naming `what` when `value` is not one.
export function keySlots(value, what) {
  const slots = internals(value);
  if (!slots) throw new TypeError(`${what} is not of type 'CryptoKey'`);
  return slots;
}

// Usages in `wanted` that are in `allowed`, in canonical order.
export function usageIntersection(wanted, allowed) {
  return wanted.filter((u) => allowed.includes(u));
}
