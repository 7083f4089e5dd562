// crypto.DigestStream (a workerd extension): a WritableStream that hashes what is written to it,
// incrementally over a native hash state (node:crypto's), and resolves `digest` with an
// ArrayBuffer when it closes.
import { native } from "./native.js";
import { DOMException } from "./dom_exception.js";
import { WritableStream } from "./writable_stream.js";
import { deferred } from "./stream_common.js";
import { defineToStringTag, requireArgs } from "./util.js";

const kAlgorithms = new Map([
  ["SHA-1", "sha1"],
  ["SHA-256", "sha256"],
  ["SHA-384", "sha384"],
  ["SHA-512", "sha512"],
  ["MD5", "md5"],
]);

function chunkBytes(chunk) {
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  throw new TypeError("DigestStream: the chunk must be an ArrayBuffer, an ArrayBufferView or a string");
}

export class DigestStream extends WritableStream {
  #digest;

  constructor(algorithm) {
    requireArgs(arguments.length, 1, "DigestStream");
    const name = typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm;
    const hash = kAlgorithms.get(String(name).toUpperCase());
    if (hash === undefined) {
      throw new DOMException("Unrecognized or unimplemented digest algorithm requested.", "NotSupportedError");
    }
    const handle = native.nodeHashNew(hash);
    const result = deferred();
    super({
      write(chunk) {
        native.nodeHashUpdate(handle, chunkBytes(chunk));
      },
      close() {
        const out = native.nodeHashDigest(handle);
        result.resolve(out instanceof ArrayBuffer ? out : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      },
      abort(reason) {
        result.reject(reason);
      },
    });
    result.promise.catch(() => {});
    this.#digest = result.promise;
  }

  get digest() {
    return this.#digest;
  }
}
defineToStringTag(DigestStream);
