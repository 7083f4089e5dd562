// Headers (Fetch Standard): a list of (lowercased name, value) pairs with validation, the
// "sort and combine" view that iteration exposes, getSetCookie(), and an immutable guard for
// responses such as Response.error() and Response.redirect().
import {
  definePairIterable,
  defineToStringTag,
  inspectSymbol,
  makeEnumerable,
  requireArgs,
} from "./util.js";

const kToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const kInvalidValue = /[\0\r\n]|[^\0-\xff]/;

export function isToken(s) {
  return kToken.test(s);
}

function normalizeName(name, where) {
  const s = String(name);
  if (!kToken.test(s)) throw new TypeError(`${where}: invalid header name "${s}"`);
  return s.toLowerCase();
}

const isHttpWhitespace = (c) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function normalizeValue(value, where) {
  let s = String(value);
  if (s.length > 0 && (isHttpWhitespace(s.charCodeAt(0)) || isHttpWhitespace(s.charCodeAt(s.length - 1)))) {
    s = s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  }
  if (kInvalidValue.test(s)) throw new TypeError(`${where}: invalid header value "${s}"`);
  return s;
}

let internals;

export class Headers {
  #list = []; // [lowercased name, value], in insertion order
  #guard = "none"; // or "immutable"
  #sorted = null; // cached "sort and combine" result

  constructor(init = undefined) {
    if (init === undefined) return;
    if (init === null || (typeof init !== "object" && typeof init !== "function")) {
      throw new TypeError("Headers: init must be an object or a sequence of pairs");
    }
    if (typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        if (pair === null || typeof pair !== "object" || typeof pair[Symbol.iterator] !== "function") {
          throw new TypeError("Headers: each init entry must be a [name, value] pair");
        }
        const items = [...pair];
        if (items.length !== 2) throw new TypeError("Headers: each init pair must have two items");
        this.#append(items[0], items[1], "Headers");
      }
    } else {
      for (const key of Reflect.ownKeys(init)) {
        if (typeof key === "symbol") continue;
        const desc = Reflect.getOwnPropertyDescriptor(init, key);
        if (desc === undefined || !desc.enumerable) continue;
        this.#append(key, init[key], "Headers");
      }
    }
  }

  #checkMutable(where) {
    if (this.#guard === "immutable") throw new TypeError(`${where}: the headers are immutable`);
    this.#sorted = null;
  }

  #append(name, value, where) {
    const n = normalizeName(name, where);
    const v = normalizeValue(value, where);
    this.#checkMutable(where);
    this.#list.push([n, v]);
  }

  append(name, value) {
    requireArgs(arguments.length, 2, "Headers.append");
    this.#append(name, value, "Headers.append");
  }

  delete(name) {
    requireArgs(arguments.length, 1, "Headers.delete");
    const n = normalizeName(name, "Headers.delete");
    this.#checkMutable("Headers.delete");
    this.#list = this.#list.filter(([key]) => key !== n);
  }

  get(name) {
    requireArgs(arguments.length, 1, "Headers.get");
    const n = normalizeName(name, "Headers.get");
    let result = null;
    for (const [key, value] of this.#list) {
      if (key === n) result = result === null ? value : `${result}, ${value}`;
    }
    return result;
  }

  getSetCookie() {
    return this.#list.filter(([key]) => key === "set-cookie").map(([, value]) => value);
  }

  has(name) {
    requireArgs(arguments.length, 1, "Headers.has");
    const n = normalizeName(name, "Headers.has");
    return this.#list.some(([key]) => key === n);
  }

  set(name, value) {
    requireArgs(arguments.length, 2, "Headers.set");
    const n = normalizeName(name, "Headers.set");
    const v = normalizeValue(value, "Headers.set");
    this.#checkMutable("Headers.set");
    const index = this.#list.findIndex(([key]) => key === n);
    if (index < 0) {
      this.#list.push([n, v]);
    } else {
      this.#list[index] = [n, v];
      this.#list = this.#list.filter(([key], i) => i <= index || key !== n);
    }
  }

  // The spec's "sort and combine": names in byte order, values joined with ", ", except
  // set-cookie, whose values stay separate.
  #sortAndCombine() {
    if (this.#sorted !== null) return this.#sorted;
    const names = [...new Set(this.#list.map(([key]) => key))].sort();
    const out = [];
    for (const name of names) {
      if (name === "set-cookie") {
        for (const value of this.getSetCookie()) out.push([name, value]);
      } else {
        out.push([name, this.get(name)]);
      }
    }
    this.#sorted = out;
    return out;
  }

  [inspectSymbol](depth, options, inspect) {
    const object = {};
    for (const [name, value] of this.#sortAndCombine()) {
      object[name] = name in object ? [].concat(object[name], value) : value;
    }
    return "Headers " + inspect(object, options);
  }

  static {
    internals = {
      pairs(headers) {
        if (!(#list in headers)) throw new TypeError("Illegal invocation");
        return headers.#sortAndCombine();
      },
      list: (headers) => headers.#list,
      setGuard(headers, guard) {
        headers.#guard = guard;
      },
      guard: (headers) => headers.#guard,
      fromList(list, guard) {
        const headers = new Headers();
        headers.#list = list;
        headers.#guard = guard;
        return headers;
      },
    };
  }
}
definePairIterable(Headers, "Headers", (self) => internals.pairs(self));
defineToStringTag(Headers);
makeEnumerable(Headers, ["append", "delete", "get", "getSetCookie", "has", "set"]);

// The raw list, in insertion order, with duplicates (for writing a response to the wire).
export function headerList(headers) {
  return internals.list(headers);
}

export function setHeadersGuard(headers, guard) {
  internals.setGuard(headers, guard);
}

// Trusted construction from [name, value] pairs (names are lowercased; no validation).
export function headersFromPairs(pairs, guard = "none") {
  return internals.fromList(
    pairs.map(([name, value]) => [String(name).toLowerCase(), String(value)]),
    guard,
  );
}

// A copy with the same guard (for clone()).
export function copyHeaders(headers) {
  return internals.fromList(internals.list(headers).map(([n, v]) => [n, v]), internals.guard(headers));
}
