// URLSearchParams and the application/x-www-form-urlencoded parser and serialiser. A
// URLSearchParams made by URL is bound to it: every change writes the URL's query back.
import { FORM_SET, decodeString, encodeString } from "./url_percent.js";
import {
  definePairIterable,
  defineToStringTag,
  inspectSymbol,
  makeEnumerable,
  requireArgs,
  toUSVString,
} from "./util.js";

export function parseFormUrlencoded(input) {
  const list = [];
  // Sequences between "&"s, found with indexOf: String.prototype.split with a string that is
  // not a constant takes V8's runtime path.
  for (let start = 0; start <= input.length;) {
    let end = input.indexOf("&", start);
    if (end < 0) end = input.length;
    if (end > start) {
      const eq = input.indexOf("=", start);
      const name = eq < 0 || eq > end ? input.slice(start, end) : input.slice(start, eq);
      const value = eq < 0 || eq > end ? "" : input.slice(eq + 1, end);
      list.push([decodeString(name, true), decodeString(value, true)]);
    }
    start = end + 1;
  }
  return list;
}

export function serializeFormUrlencoded(list) {
  let out = "";
  for (const [name, value] of list) {
    if (out !== "") out += "&";
    out += encodeString(name, FORM_SET, true) + "=" + encodeString(value, FORM_SET, true);
  }
  return out;
}

let internals;

export class URLSearchParams {
  #list = [];
  #onUpdate = null; // set for a URL's searchParams: receives the new query (or null)

  constructor(init = "") {
    if (init === "") return;
    if (init !== null && (typeof init === "object" || typeof init === "function")) {
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          if (pair === null || typeof pair !== "object" || typeof pair[Symbol.iterator] !== "function") {
            throw new TypeError("URLSearchParams: each init entry must be a sequence");
          }
          const items = [...pair];
          if (items.length !== 2) {
            throw new TypeError("URLSearchParams: each init pair must have exactly two items");
          }
          this.#list.push([toUSVString(items[0]), toUSVString(items[1])]);
        }
      } else {
        // record<USVString, USVString>: keys that become equal once lone surrogates are replaced
        // are one entry, at the first one's place, with the last one's value.
        const record = new Map();
        for (const key of Reflect.ownKeys(init)) {
          if (typeof key === "symbol") continue;
          const desc = Reflect.getOwnPropertyDescriptor(init, key);
          if (desc === undefined || !desc.enumerable) continue;
          record.set(toUSVString(key), toUSVString(init[key]));
        }
        for (const [name, value] of record) this.#list.push([name, value]);
      }
    } else {
      let text = toUSVString(init);
      if (text.startsWith("?")) text = text.slice(1);
      this.#list = parseFormUrlencoded(text);
    }
  }

  #update() {
    if (this.#onUpdate === null) return;
    const query = serializeFormUrlencoded(this.#list);
    this.#onUpdate(query === "" ? null : query);
  }

  get size() {
    return this.#list.length;
  }

  append(name, value) {
    requireArgs(arguments.length, 2, "URLSearchParams.append");
    this.#list.push([toUSVString(name), toUSVString(value)]);
    this.#update();
  }

  delete(name, value = undefined) {
    requireArgs(arguments.length, 1, "URLSearchParams.delete");
    name = toUSVString(name);
    if (value === undefined) {
      this.#list = this.#list.filter(([n]) => n !== name);
    } else {
      value = toUSVString(value);
      this.#list = this.#list.filter(([n, v]) => n !== name || v !== value);
    }
    this.#update();
  }

  get(name) {
    requireArgs(arguments.length, 1, "URLSearchParams.get");
    name = toUSVString(name);
    for (const entry of this.#list) {
      if (entry[0] === name) return entry[1];
    }
    return null;
  }

  getAll(name) {
    requireArgs(arguments.length, 1, "URLSearchParams.getAll");
    name = toUSVString(name);
    return this.#list.filter(([n]) => n === name).map(([, v]) => v);
  }

  has(name, value = undefined) {
    requireArgs(arguments.length, 1, "URLSearchParams.has");
    name = toUSVString(name);
    if (value === undefined) return this.#list.some(([n]) => n === name);
    value = toUSVString(value);
    return this.#list.some(([n, v]) => n === name && v === value);
  }

  set(name, value) {
    requireArgs(arguments.length, 2, "URLSearchParams.set");
    name = toUSVString(name);
    value = toUSVString(value);
    const index = this.#list.findIndex(([n]) => n === name);
    if (index < 0) {
      this.#list.push([name, value]);
    } else {
      this.#list[index] = [name, value];
      this.#list = this.#list.filter(([n], i) => i <= index || n !== name);
    }
    this.#update();
  }

  sort() {
    // Array.prototype.sort is stable and compares code units, as the spec requires.
    this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#update();
  }

  toString() {
    return serializeFormUrlencoded(this.#list);
  }

  [inspectSymbol](depth, options, inspect) {
    if (this.#list.length === 0) return "URLSearchParams {}";
    const entries = this.#list.map(([n, v]) => `${inspect(n)} => ${inspect(v)}`);
    return `URLSearchParams { ${entries.join(", ")} }`;
  }

  static {
    internals = {
      list: (params) => {
        if (!(#list in params)) throw new TypeError("Illegal invocation");
        return params.#list;
      },
      bind(params, onUpdate) {
        params.#onUpdate = onUpdate;
      },
      setList(params, list) {
        params.#list = list;
      },
    };
  }
}
definePairIterable(URLSearchParams, "URLSearchParams", (self) => internals.list(self));
defineToStringTag(URLSearchParams);
makeEnumerable(URLSearchParams, [
  "size", "append", "delete", "get", "getAll", "has", "set", "sort", "toString",
]);

// For URL: a URLSearchParams over `query` that reports changes through `onUpdate`.
export function createBoundSearchParams(query, onUpdate) {
  // The query as it is: the constructor would drop a leading "?", which belongs to the query
  // here (a URL "??a=b" has the name "?a").
  const params = new URLSearchParams();
  if (query !== "") internals.setList(params, parseFormUrlencoded(query));
  internals.bind(params, onUpdate);
  return params;
}

export function resetSearchParams(params, query) {
  internals.setList(params, parseFormUrlencoded(query));
}

export function searchParamsList(params) {
  return internals.list(params);
}
