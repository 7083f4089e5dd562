// Blob and File (W3C File API). A Blob holds one immutable Uint8Array; slices share it.
import { utf8DecodeLossy, utf8Encode } from "./encoding.js";
import { byteStreamFromBytes } from "./readable_stream.js";
import {
  bufferSourceBytes,
  concatBytes,
  defineToStringTag,
  inspectSymbol,
  makeEnumerable,
  requireArgs,
  toUSVString,
} from "./util.js";

let bytesOf;
let hasBytes;
let blobsMade = 0;

// A type is kept only if it is printable ASCII; it is lowercased, as the spec says.
function normalizeType(type) {
  const s = String(type);
  return /^[\x20-\x7e]*$/.test(s) ? s.toLowerCase() : "";
}

function relativeIndex(value, size) {
  const n = Math.trunc(Number(value)) || 0;
  return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
}

export class Blob {
  #bytes;
  #type;

  constructor(blobParts = undefined, options = {}) {
    if (blobParts === null) blobParts = undefined;
    if (blobParts !== undefined && (typeof blobParts !== "object" || !(Symbol.iterator in blobParts))) {
      throw new TypeError("Blob: blobParts must be a sequence");
    }
    const endings = options?.endings === undefined ? "transparent" : String(options.endings);
    if (endings !== "transparent" && endings !== "native") {
      throw new TypeError(`Blob: invalid endings "${endings}"`);
    }
    const chunks = [];
    for (const part of blobParts ?? []) {
      if (part instanceof Blob) {
        chunks.push(part.#bytes);
        continue;
      }
      const view = bufferSourceBytes(part);
      if (view !== null) {
        chunks.push(view.slice());
        continue;
      }
      let text = toUSVString(part);
      if (endings === "native") text = text.replace(/\r\n?/g, "\n");
      chunks.push(utf8Encode(text));
    }
    // Every chunk is a fresh copy or another Blob's immutable bytes, so sharing is safe.
    this.#bytes = chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks);
    this.#type = options?.type === undefined ? "" : normalizeType(options.type);
    blobsMade++;
  }

  get size() {
    return this.#bytes.byteLength;
  }

  get type() {
    return this.#type;
  }

  slice(start = 0, end = undefined, contentType = "") {
    const size = this.#bytes.byteLength;
    const from = relativeIndex(start, size);
    const to = end === undefined ? size : relativeIndex(end, size);
    const blob = new Blob();
    blob.#bytes = this.#bytes.subarray(from, Math.max(from, to));
    blob.#type = contentType === undefined ? "" : normalizeType(contentType);
    return blob;
  }

  text() {
    return Promise.resolve(utf8DecodeLossy(this.#bytes));
  }

  arrayBuffer() {
    return Promise.resolve(this.#bytes.slice().buffer);
  }

  bytes() {
    return Promise.resolve(this.#bytes.slice());
  }

  stream() {
    return byteStreamFromBytes(this.#bytes.slice());
  }

  [inspectSymbol]() {
    return `Blob { size: ${this.size}, type: '${this.#type}' }`;
  }

  static {
    bytesOf = (blob) => blob.#bytes;
    hasBytes = (value) => #bytes in value;
  }
}
defineToStringTag(Blob);
makeEnumerable(Blob, ["size", "type", "slice", "text", "arrayBuffer", "bytes", "stream"]);

// The bytes behind a Blob (shared, never to be mutated).
export function blobBytes(blob) {
  return bytesOf(blob);
}

// Whether `value` is a Blob or File, without touching its properties.
export function isBlob(value) {
  return typeof value === "object" && value !== null && hasBytes(value);
}

// How many Blobs this context has made: structuredClone looks for them only once there are any.
export function blobCount() {
  return blobsMade;
}

export class File extends Blob {
  #name;
  #lastModified;

  constructor(fileBits, fileName, options = {}) {
    requireArgs(arguments.length, 2, "File constructor");
    super(fileBits, options);
    this.#name = toUSVString(fileName);
    this.#lastModified =
      options?.lastModified === undefined ? Date.now() : Math.trunc(Number(options.lastModified)) || 0;
  }

  get name() {
    return this.#name;
  }

  get lastModified() {
    return this.#lastModified;
  }

  get webkitRelativePath() {
    return "";
  }

  [inspectSymbol]() {
    return `File { size: ${this.size}, type: '${this.type}', name: '${this.#name}' }`;
  }
}
defineToStringTag(File);
makeEnumerable(File, ["name", "lastModified", "webkitRelativePath"]);
