// CompressionStream and DecompressionStream (WHATWG Compression): gzip, deflate and deflate-raw
// on zlib. Each stream owns one native z_stream (native.zlibNew), fed chunk by chunk, so memory
// stays bounded by zlib's window, not by the data. Errors are workerd's: a TypeError for an
// unknown format, Error("Decompression failed.") for corrupt or truncated data.
import { native } from "./native.js";
import { TransformStream } from "./transform_stream.js";
import { defineToStringTag, makeEnumerable, requireArgs } from "./util.js";

function chunkBytes(chunk) {
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("The chunk must be an ArrayBuffer or an ArrayBufferView");
}

function zlibTransform(format, decompress) {
  const handle = native.zlibNew(String(format), decompress);
  return new TransformStream({
    transform(chunk, controller) {
      const out = native.zlibPush(handle, chunkBytes(chunk), false);
      if (out.byteLength > 0) controller.enqueue(out);
    },
    flush(controller) {
      const out = native.zlibPush(handle, undefined, true);
      if (out.byteLength > 0) controller.enqueue(out);
    },
  });
}

export class CompressionStream {
  #transform;

  constructor(format) {
    requireArgs(arguments.length, 1, "CompressionStream");
    this.#transform = zlibTransform(format, false);
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}
defineToStringTag(CompressionStream);
makeEnumerable(CompressionStream, ["readable", "writable"]);

export class DecompressionStream {
  #transform;

  constructor(format) {
    requireArgs(arguments.length, 1, "DecompressionStream");
    this.#transform = zlibTransform(format, true);
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}
defineToStringTag(DecompressionStream);
makeEnumerable(DecompressionStream, ["readable", "writable"]);
