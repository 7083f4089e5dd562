// FormData: an ordered list of (name, string | File) entries, as the XHR spec defines it.
import { Blob, File } from "./blob.js";
import {
  definePairIterable,
  defineToStringTag,
  inspectSymbol,
  makeEnumerable,
  requireArgs,
  toUSVString,
} from "./util.js";

let entriesOf;

function makeEntry(name, value, filename, argCount, where) {
  name = toUSVString(name);
  if (value instanceof Blob) {
    if (!(value instanceof File) || filename !== undefined) {
      const fileName = filename !== undefined ? toUSVString(filename) : value instanceof File ? value.name : "blob";
      const options = { type: value.type };
      if (value instanceof File) options.lastModified = value.lastModified;
      value = new File([value], fileName, options);
    }
    return [name, value];
  }
  if (argCount > 2) throw new TypeError(`${where}: a filename is only allowed with a Blob value`);
  return [name, toUSVString(value)];
}

export class FormData {
  #entries = [];

  constructor(form = undefined) {
    if (form !== undefined) {
      throw new TypeError("FormData: there are no form elements here to read entries from");
    }
  }

  append(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, "FormData.append");
    this.#entries.push(makeEntry(name, value, filename, arguments.length, "FormData.append"));
  }

  delete(name) {
    requireArgs(arguments.length, 1, "FormData.delete");
    name = toUSVString(name);
    this.#entries = this.#entries.filter(([n]) => n !== name);
  }

  get(name) {
    requireArgs(arguments.length, 1, "FormData.get");
    name = toUSVString(name);
    const entry = this.#entries.find(([n]) => n === name);
    return entry === undefined ? null : entry[1];
  }

  getAll(name) {
    requireArgs(arguments.length, 1, "FormData.getAll");
    name = toUSVString(name);
    return this.#entries.filter(([n]) => n === name).map(([, v]) => v);
  }

  has(name) {
    requireArgs(arguments.length, 1, "FormData.has");
    name = toUSVString(name);
    return this.#entries.some(([n]) => n === name);
  }

  set(name, value, filename = undefined) {
    requireArgs(arguments.length, 2, "FormData.set");
    const entry = makeEntry(name, value, filename, arguments.length, "FormData.set");
    const index = this.#entries.findIndex(([n]) => n === entry[0]);
    if (index < 0) {
      this.#entries.push(entry);
    } else {
      this.#entries[index] = entry;
      this.#entries = this.#entries.filter(([n], i) => i <= index || n !== entry[0]);
    }
  }

  [inspectSymbol](depth, options, inspect) {
    const items = this.#entries.map(([n, v]) => `${inspect(n)} => ${inspect(v)}`);
    return items.length === 0 ? "FormData {}" : `FormData { ${items.join(", ")} }`;
  }

  static {
    entriesOf = (formData) => {
      if (!(#entries in formData)) throw new TypeError("Illegal invocation");
      return formData.#entries;
    };
  }
}
definePairIterable(FormData, "FormData", (self) => entriesOf(self));
defineToStringTag(FormData);
makeEnumerable(FormData, ["append", "delete", "get", "getAll", "has", "set"]);

export function formDataEntries(formData) {
  return entriesOf(formData);
}
