// The crypto global: getRandomValues and randomUUID over the natives. crypto.subtle is a
// placeholder until WebCrypto lands: each method throws a TypeError naming itself, so code that
// needs it fails loudly instead of on an undefined property. setSubtle() installs the real one.
import { native } from "./native.js";
import { DOMException } from "./dom_exception.js";
import { defineToStringTag, makeEnumerable, requireArgs, typedArrayName } from "./util.js";

const kMaxRandomBytes = 65536;

const kIntegerArrays = new Set([
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
  "Uint32Array", "BigInt64Array", "BigUint64Array",
]);

const kSubtleMethods = [
  "encrypt", "decrypt", "sign", "verify", "digest", "generateKey", "deriveKey", "deriveBits",
  "importKey", "exportKey", "wrapKey", "unwrapKey",
];

function makeSubtlePlaceholder() {
  const subtle = {};
  for (const name of kSubtleMethods) {
    subtle[name] = {
      [name]() {
        throw new TypeError(`crypto.subtle.${name} is not supported yet by partyd`);
      },
    }[name];
  }
  Object.defineProperty(subtle, Symbol.toStringTag, { value: "SubtleCrypto", configurable: true });
  return subtle;
}

let subtle = null;

// Replaces the placeholder with a real SubtleCrypto object.
export function setSubtle(value) {
  subtle = value;
}

export class Crypto {
  get subtle() {
    return (subtle ??= makeSubtlePlaceholder());
  }

  getRandomValues(array) {
    requireArgs(arguments.length, 1, "crypto.getRandomValues");
    if (!kIntegerArrays.has(typedArrayName(array))) {
      throw new DOMException(
        "crypto.getRandomValues: the argument must be an integer-type TypedArray",
        "TypeMismatchError",
      );
    }
    if (array.byteLength > kMaxRandomBytes) {
      throw new DOMException(
        `crypto.getRandomValues: the ArrayBufferView's byte length (${array.byteLength}) ` +
          `exceeds the number of bytes of entropy available via this API (${kMaxRandomBytes})`,
        "QuotaExceededError",
      );
    }
    native.randomFill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  }

  randomUUID() {
    return native.randomUUID();
  }
}
defineToStringTag(Crypto);
makeEnumerable(Crypto, ["subtle", "getRandomValues", "randomUUID"]);
