// Small WebIDL-style helpers shared by the web API modules: argument conversions, buffer-source
// access, global and class-member definition, and the "pair iterator" that Headers,
// URLSearchParams and FormData expose. Nothing here touches the natives.

export const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

const kLoneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// WebIDL USVString: a string with lone surrogates replaced by U+FFFD.
export function toUSVString(value) {
  const s = typeof value === "string" ? value : String(value);
  kLoneSurrogate.lastIndex = 0;
  return kLoneSurrogate.test(s) ? s.replace(kLoneSurrogate, "\uFFFD") : s;
}

// WebIDL ByteString: every code unit must fit in a byte.
export function toByteString(value, what) {
  const s = String(value);
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) {
      throw new TypeError(`${what}: "${s}" contains a character outside the range 0-255`);
    }
  }
  return s;
}

// Brand checks that also hold for objects from another realm (the tests' fake natives).
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
).get;

export function typedArrayName(value) {
  return ArrayBuffer.isView(value) ? typedArrayTag.call(value) : undefined;
}

export function isUint8Array(value) {
  return typedArrayName(value) === "Uint8Array";
}

function isArrayBuffer(value) {
  const tag = Object.prototype.toString.call(value);
  return tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]";
}

export function isBufferSource(value) {
  return ArrayBuffer.isView(value) || isArrayBuffer(value);
}

// A Uint8Array view over the bytes of a BufferSource (no copy), or null if it is not one.
export function bufferSourceBytes(value) {
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (isBufferSource(value)) return new Uint8Array(value);
  return null;
}

export function concatBytes(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  if (total === undefined) total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export function requireArgs(count, required, where) {
  if (count < required) {
    const noun = required === 1 ? "argument" : "arguments";
    throw new TypeError(`${where}: ${required} ${noun} required, but only ${count} present.`);
  }
}

export function illegalConstructor() {
  throw new TypeError("Illegal constructor");
}

// Defines `name` on `target` the way the web platform defines globals and interface members:
// writable, configurable and not enumerable.
export function defineValue(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

export function defineToStringTag(cls, tag = cls.name) {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: tag, configurable: true });
}

// Makes `methods` (names on cls.prototype) enumerable, as WebIDL attributes and operations are.
export function makeEnumerable(cls, names) {
  for (const name of names) {
    const desc = Object.getOwnPropertyDescriptor(cls.prototype, name);
    desc.enumerable = true;
    Object.defineProperty(cls.prototype, name, desc);
  }
}

// ---------------------------------------------------------------------------------------------
// Pair iterators (WebIDL "iterable<K, V>"). `getPairs()` returns the current list of [key, value]
// pairs each time, so iteration sees changes made while iterating, as the spec requires.

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));

class PairIterator {
  #getPairs;
  #kind;
  #index = 0;

  constructor(getPairs, kind) {
    this.#getPairs = getPairs;
    this.#kind = kind;
  }

  next() {
    if (!(#getPairs in this)) throw new TypeError("Illegal invocation");
    const pairs = this.#getPairs();
    if (this.#index >= pairs.length) return { value: undefined, done: true };
    const [key, value] = pairs[this.#index++];
    if (this.#kind === "key") return { value: key, done: false };
    if (this.#kind === "value") return { value, done: false };
    return { value: [key, value], done: false };
  }
}
Object.setPrototypeOf(PairIterator.prototype, IteratorPrototype);

// Adds entries/keys/values/forEach/@@iterator to cls.prototype. `getPairs(self)` must brand-check.
export function definePairIterable(cls, tag, getPairs) {
  class TaggedIterator extends PairIterator {}
  Object.defineProperty(TaggedIterator.prototype, Symbol.toStringTag, {
    value: `${tag} Iterator`,
    configurable: true,
  });
  const make = (self, kind) => {
    getPairs(self); // brand check before handing out an iterator
    return new TaggedIterator(() => getPairs(self), kind);
  };
  const methods = {
    entries() {
      return make(this, "key+value");
    },
    keys() {
      return make(this, "key");
    },
    values() {
      return make(this, "value");
    },
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") {
        throw new TypeError(`${tag}.forEach: callback is not a function`);
      }
      // Re-read the list each step: the callback may change it.
      for (let i = 0; i < getPairs(this).length; i++) {
        const [key, value] = getPairs(this)[i];
        callback.call(thisArg, value, key, this);
      }
    },
  };
  for (const name of Object.keys(methods)) {
    Object.defineProperty(cls.prototype, name, {
      value: methods[name],
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  defineValue(cls.prototype, Symbol.iterator, cls.prototype.entries);
}
