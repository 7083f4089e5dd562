// node:buffer: the npm `buffer` package (feross/buffer, Node's Buffer API on Uint8Array), plus
// the `base64url` encoding it lacks, and the module's other exports. Loaded on first use.
import { Blob, File } from "../web/blob.js";
import { atob, btoa } from "../web/base64.js";
import { withStandIns } from "./common.js";

const kNames = [
  "Blob", "Buffer", "File", "INSPECT_MAX_BYTES", "SlowBuffer", "atob", "btoa", "constants",
  "isAscii", "isUtf8", "kMaxLength", "kStringMaxLength", "resolveObjectURL", "transcode",
];
const kStringMaxLength = 2 ** 29 - 24; // V8's String::kMaxLength on 64-bit

let cached = null;

export function bufferModule() {
  if (cached === null) cached = create();
  return cached;
}

function isBase64url(encoding) {
  return typeof encoding === "string" && encoding.toLowerCase() === "base64url";
}

// The package decodes '-' and '_' already; only encoding and the encoding's name are missing.
function addBase64url(Buffer) {
  const proto = Buffer.prototype;
  const { toString, write } = proto;
  proto.toString = function (encoding, start, end) {
    if (!isBase64url(encoding)) return toString.apply(this, arguments);
    return toString
      .call(this, "base64", start, end)
      .replace(/[+/=]/g, (c) => (c === "+" ? "-" : c === "/" ? "_" : ""));
  };
  proto.write = function (string, offset, length, encoding) {
    const args = Array.from(arguments);
    for (let i = 1; i < args.length; i++) if (isBase64url(args[i])) args[i] = "base64";
    return write.apply(this, args);
  };
  // The position of the encoding argument of each.
  for (const [name, at] of [["from", 1], ["byteLength", 1], ["alloc", 2]]) {
    const original = Buffer[name];
    Buffer[name] = function (...args) {
      if (isBase64url(args[at])) args[at] = "base64";
      return original.apply(this, args);
    };
  }
  const { isEncoding } = Buffer;
  Buffer.isEncoding = (encoding) => isBase64url(encoding) || isEncoding(encoding);
}

function create() {
  const npm = require("buffer");
  const { Buffer } = npm;
  addBase64url(Buffer);
  const exports = {
    Buffer,
    SlowBuffer: npm.SlowBuffer,
    INSPECT_MAX_BYTES: npm.INSPECT_MAX_BYTES,
    kMaxLength: npm.kMaxLength,
    kStringMaxLength,
    constants: { MAX_LENGTH: npm.kMaxLength, MAX_STRING_LENGTH: kStringMaxLength },
    Blob,
    File,
    atob,
    btoa,
    isAscii(input) {
      const bytes = viewBytes(input, "isAscii");
      for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
      return true;
    },
    isUtf8(input) {
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(viewBytes(input, "isUtf8"));
        return true;
      } catch {
        return false;
      }
    },
  };
  return withStandIns("buffer", exports, kNames);
}

function viewBytes(input, where) {
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new TypeError(`buffer.${where}: the input must be an ArrayBuffer, a TypedArray or a DataView`);
}

// The Buffer class (the npm `buffer` package, loaded on first use).
export function getBuffer() {
  return bufferModule().Buffer;
}

// A Buffer over the bytes of a string (in `encoding`), a view or an ArrayBuffer; null otherwise.
export function toBuffer(value, encoding) {
  const Buffer = getBuffer();
  if (typeof value === "string") return Buffer.from(value, encoding || "utf8");
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  return null;
}
