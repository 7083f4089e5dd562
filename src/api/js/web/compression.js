// CompressionStream and DecompressionStream (WHATWG Compression): gzip, deflate and deflate-raw
// on zlib. Each stream owns one native z_stream (native.zlibNew), fed chunk by chunk, so memory
// stays bounded by zlib's window and the reader's pace, not by the data. Errors are workerd's: a TypeError for an
// unknown format, Error("Decompression failed.") for corrupt or truncated data.
import { native } from "./native.js";
import { ReadableStream } from "./readable_stream.js";
import { WritableStream } from "./writable_stream.js";
import { defineToStringTag, makeEnumerable, requireArgs } from "./util.js";

function chunkBytes(chunk) {
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("The chunk must be an ArrayBuffer or an ArrayBufferView");
}

// A zlib stream as a writable side and a readable side. A write feeds its bytes to zlib and
// resolves once their output has been queued on the readable side; a decompressor's output comes
// out in pieces of at most about 256 KiB (native.zlibHasMore), and a write waits for the reader
// to take a piece before it makes the next, so a small input that inflates to gigabytes costs
// memory only as fast as the reader reads it.
function zlibPair(format, decompress) {
  const handle = native.zlibNew(String(format), decompress);
  let out;          // the readable side's controller
  let demand = null; // resolves a write that waits for the reader
  let cancelled = null;
  const wake = () => {
    const w = demand;
    demand = null;
    if (w) w();
  };
  const pump = async (bytes, finish) => {
    if (cancelled) throw cancelled;
    let piece;
    try {
      piece = native.zlibPush(handle, bytes, finish);
      for (;;) {
        if (piece.byteLength > 0) out.enqueue(piece);
        if (!native.zlibHasMore(handle)) return;
        if (out.desiredSize <= 0) await new Promise((resolve) => (demand = resolve));
        if (cancelled) throw cancelled;
        piece = native.zlibPush(handle, undefined, finish);
      }
    } catch (e) {
      if (!cancelled) out.error(e);
      throw e;
    }
  };
  const readable = new ReadableStream({
    start(controller) {
      out = controller;
    },
    pull: wake,
    cancel(reason) {
      cancelled = reason ?? new TypeError("The readable side was cancelled");
      wake();
    },
  });
  const writable = new WritableStream({
    write(chunk) {
      return pump(chunkBytes(chunk), false);
    },
    async close() {
      await pump(undefined, true);
      out.close();
    },
    abort(reason) {
      if (!cancelled) out.error(reason);
    },
  });
  return { readable, writable };
}

export class CompressionStream {
  #pair;

  constructor(format) {
    requireArgs(arguments.length, 1, "CompressionStream");
    this.#pair = zlibPair(format, false);
  }

  get readable() {
    return this.#pair.readable;
  }

  get writable() {
    return this.#pair.writable;
  }
}
defineToStringTag(CompressionStream);
makeEnumerable(CompressionStream, ["readable", "writable"]);

export class DecompressionStream {
  #pair;

  constructor(format) {
    requireArgs(arguments.length, 1, "DecompressionStream");
    this.#pair = zlibPair(format, true);
  }

  get readable() {
    return this.#pair.readable;
  }

  get writable() {
    return this.#pair.writable;
  }
}
defineToStringTag(DecompressionStream);
makeEnumerable(DecompressionStream, ["readable", "writable"]);
