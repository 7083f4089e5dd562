// crypto.subtle for party code: createSubtle(native) gives a SubtleCrypto over the crypto*
// natives (src/api/crypto_natives.cc). Every method returns a Promise and never throws: WebIDL
// conversion errors are TypeErrors, WebCrypto's own are DOMExceptions. The work runs
// synchronously inside the call; the Promise only reports it.
import { copyBytes, utf8Decode, utf8Encode } from "./bytes.js";
import { CryptoKey, keySlots } from "./crypto_key.js";
import { domError, fromNative, notSupported } from "./errors.js";
import { implOf, normalizeAlgorithm } from "./registry.js";
import { kKeyFormats, toEnum, toJwk, toUsages } from "./webidl.js";
import { defineToStringTag, illegalConstructor, makeEnumerable, requireArgs } from "../web/util.js";

export { CryptoKey };

// Party code may replace these globals later; the runtime keeps the originals.
const PromiseResolve = Promise.resolve.bind(Promise);
const PromiseReject = Promise.reject.bind(Promise);
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;

const kToken = Symbol("SubtleCrypto");

function run(fn) {
  try {
    return PromiseResolve(fn());
  } catch (e) {
    return PromiseReject(fromNative(e));
  }
}

// The key must be of the operation's algorithm and allow the usage.
function checkKey(key, alg, usage) {
  if (key.algorithm.name !== alg.name) {
    throw domError("InvalidAccessError", `The key is for ${key.algorithm.name}, not ${alg.name}`);
  }
  if (!key.usages.includes(usage)) {
    throw domError("InvalidAccessError", `The key does not allow '${usage}'`);
  }
}

function requireOp(impl, op, name) {
  if (!impl || !impl[op]) throw notSupported(`${name} does not support ${op}`);
  return impl[op];
}

function keyData(format, value) {
  return format === "jwk" ? toJwk(value) : copyBytes(value, "keyData");
}

// Normalizes for the first of `ops` that the algorithm supports (wrapKey falls back to encrypt).
function normalizeEither(ops, algorithm) {
  try {
    return [ops[0], normalizeAlgorithm(ops[0], algorithm)];
  } catch (e) {
    if (e?.name !== "NotSupportedError") throw e;
    return [ops[1], normalizeAlgorithm(ops[1], algorithm)];
  }
}

export class SubtleCrypto {
  #native;

  constructor(token, native) {
    if (token !== kToken) illegalConstructor();
    this.#native = native;
  }

  // workerd's extension: compares two buffers in time that depends only on their length.
  timingSafeEqual(a, b) {
    requireArgs(arguments.length, 2, "SubtleCrypto.timingSafeEqual");
    const viewOf = (value) => {
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      throw new TypeError("SubtleCrypto.timingSafeEqual: arguments must be ArrayBuffers or views");
    };
    const x = viewOf(a);
    const y = viewOf(b);
    if (x.byteLength !== y.byteLength) {
      throw new TypeError("Input buffers must have the same byte length.");
    }
    return this.#native.nodeTimingSafeEqual(x, y);
  }

  digest(algorithm, data) {
    return run(() => {
      requireArgs(arguments.length, 2, "SubtleCrypto.digest");
      const bytes = copyBytes(data, "data");
      const alg = normalizeAlgorithm("digest", algorithm);
      return implOf(alg.name).digest(this.#native, alg, bytes);
    });
  }

  encrypt(algorithm, key, data) {
    return run(() => this.#cipher("encrypt", arguments.length, algorithm, key, data));
  }

  decrypt(algorithm, key, data) {
    return run(() => this.#cipher("decrypt", arguments.length, algorithm, key, data));
  }

  #cipher(op, argc, algorithm, key, data) {
    requireArgs(argc, 3, `SubtleCrypto.${op}`);
    const slots = keySlots(key, "key");
    const bytes = copyBytes(data, "data");
    const alg = normalizeAlgorithm(op, algorithm);
    checkKey(slots, alg, op);
    return implOf(alg.name)[op](this.#native, alg, slots, bytes);
  }

  sign(algorithm, key, data) {
    return run(() => {
      requireArgs(arguments.length, 3, "SubtleCrypto.sign");
      const slots = keySlots(key, "key");
      const bytes = copyBytes(data, "data");
      const alg = normalizeAlgorithm("sign", algorithm);
      checkKey(slots, alg, "sign");
      return implOf(alg.name).sign(this.#native, alg, slots, bytes);
    });
  }

  verify(algorithm, key, signature, data) {
    return run(() => {
      requireArgs(arguments.length, 4, "SubtleCrypto.verify");
      const slots = keySlots(key, "key");
      const sig = copyBytes(signature, "signature");
      const bytes = copyBytes(data, "data");
      const alg = normalizeAlgorithm("verify", algorithm);
      checkKey(slots, alg, "verify");
      return implOf(alg.name).verify(this.#native, alg, slots, sig, bytes);
    });
  }

  generateKey(algorithm, extractable, keyUsages) {
    return run(() => {
      requireArgs(arguments.length, 3, "SubtleCrypto.generateKey");
      const usages = toUsages(keyUsages);
      const alg = normalizeAlgorithm("generateKey", algorithm);
      const result = implOf(alg.name).generateKey(this.#native, alg, Boolean(extractable), usages);
      if (result instanceof CryptoKey && result.usages.length === 0) {
        throw domError("SyntaxError", "Usages cannot be empty when creating a key.");
      }
      return result;
    });
  }

  importKey(format, keyData_, algorithm, extractable, keyUsages) {
    return run(() => {
      requireArgs(arguments.length, 5, "SubtleCrypto.importKey");
      const fmt = toEnum(format, kKeyFormats, "KeyFormat");
      const data = keyData(fmt, keyData_);
      const usages = toUsages(keyUsages);
      const alg = normalizeAlgorithm("importKey", algorithm);
      return this.#import(fmt, data, alg, Boolean(extractable), usages);
    });
  }

  #import(format, data, alg, extractable, usages) {
    const key = implOf(alg.name).importKey(this.#native, format, data, alg, extractable, usages);
    if (key.type !== "public" && key.usages.length === 0) {
      throw domError("SyntaxError", "Usages cannot be empty when creating a key.");
    }
    return key;
  }

  exportKey(format, key) {
    return run(() => {
      requireArgs(arguments.length, 2, "SubtleCrypto.exportKey");
      const fmt = toEnum(format, kKeyFormats, "KeyFormat");
      return this.#export(fmt, keySlots(key, "key"));
    });
  }

  #export(format, slots) {
    const impl = implOf(slots.algorithm.name);
    requireOp(impl, "exportKey", slots.algorithm.name);
    if (!slots.extractable) throw domError("InvalidAccessError", "The key is not extractable");
    return impl.exportKey(this.#native, format, slots);
  }

  deriveBits(algorithm, baseKey, length = null) {
    return run(() => {
      requireArgs(arguments.length, 2, "SubtleCrypto.deriveBits");
      const slots = keySlots(baseKey, "baseKey");
      const bits = length === null || length === undefined ? null : toLength(length);
      const alg = normalizeAlgorithm("deriveBits", algorithm);
      checkKey(slots, alg, "deriveBits");
      return implOf(alg.name).deriveBits(this.#native, alg, slots, bits);
    });
  }

  deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
    return run(() => {
      requireArgs(arguments.length, 5, "SubtleCrypto.deriveKey");
      const slots = keySlots(baseKey, "baseKey");
      const usages = toUsages(keyUsages);
      const alg = normalizeAlgorithm("deriveBits", algorithm);
      const importAlg = normalizeAlgorithm("importKey", derivedKeyType);
      const lengthAlg = normalizeAlgorithm("getKeyLength", derivedKeyType);
      checkKey(slots, alg, "deriveKey");
      const length = implOf(lengthAlg.name).getKeyLength(lengthAlg);
      const secret = implOf(alg.name).deriveBits(this.#native, alg, slots, length);
      return this.#import("raw", new Uint8Array(secret), importAlg, Boolean(extractable), usages);
    });
  }

  wrapKey(format, key, wrappingKey, wrapAlgorithm) {
    return run(() => {
      requireArgs(arguments.length, 4, "SubtleCrypto.wrapKey");
      const fmt = toEnum(format, kKeyFormats, "KeyFormat");
      const slots = keySlots(key, "key");
      const wrapping = keySlots(wrappingKey, "wrappingKey");
      const [op, alg] = normalizeEither(["wrapKey", "encrypt"], wrapAlgorithm);
      checkKey(wrapping, alg, "wrapKey");
      const exported = this.#export(fmt, slots);
      const bytes = fmt === "jwk" ? utf8Encode(JSONStringify(exported)) : new Uint8Array(exported);
      return implOf(alg.name)[op](this.#native, alg, wrapping, bytes);
    });
  }

  unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm,
    extractable, keyUsages) {
    return run(() => {
      requireArgs(arguments.length, 7, "SubtleCrypto.unwrapKey");
      const fmt = toEnum(format, kKeyFormats, "KeyFormat");
      const wrapped = copyBytes(wrappedKey, "wrappedKey");
      const unwrapping = keySlots(unwrappingKey, "unwrappingKey");
      const usages = toUsages(keyUsages);
      const [op, alg] = normalizeEither(["unwrapKey", "decrypt"], unwrapAlgorithm);
      const importAlg = normalizeAlgorithm("importKey", unwrappedKeyAlgorithm);
      checkKey(unwrapping, alg, "unwrapKey");
      const bytes = new Uint8Array(implOf(alg.name)[op](this.#native, alg, unwrapping, wrapped));
      let data = bytes;
      if (fmt === "jwk") {
        let parsed;
        try {
          parsed = JSONParse(utf8Decode(bytes));
        } catch {
          throw domError("DataError", "The unwrapped key is not a JSON Web Key");
        }
        data = toJwk(parsed);
      }
      return this.#import(fmt, data, importAlg, Boolean(extractable), usages);
    });
  }
}
defineToStringTag(SubtleCrypto);
makeEnumerable(SubtleCrypto, [
  "encrypt", "decrypt", "sign", "verify", "digest", "generateKey", "deriveKey", "deriveBits",
  "importKey", "exportKey", "wrapKey", "unwrapKey", "timingSafeEqual",
]);

// deriveBits' `length`: [EnforceRange] unsigned long.
function toLength(value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff) {
    throw new TypeError("SubtleCrypto.deriveBits: length is outside the range of unsigned long");
  }
  return Math.trunc(n);
}

export function createSubtle(native) {
  return new SubtleCrypto(kToken, native);
}
