// TextEncoderStream and TextDecoderStream: TransformStreams over TextEncoder/TextDecoder. The
// encoder carries a trailing high surrogate across chunks so split pairs encode correctly.
import { TextDecoder, TextEncoder } from "./encoding.js";
import { TransformStream } from "./transform_stream.js";
import { defineToStringTag, makeEnumerable } from "./util.js";

export class TextEncoderStream {
  #transform;

  constructor() {
    const encoder = new TextEncoder();
    let pendingHigh = "";
    this.#transform = new TransformStream({
      transform(chunk, controller) {
        let text = pendingHigh + String(chunk);
        pendingHigh = "";
        const last = text.charCodeAt(text.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pendingHigh = text[text.length - 1];
          text = text.slice(0, -1);
        }
        if (text !== "") controller.enqueue(encoder.encode(text));
      },
      flush(controller) {
        if (pendingHigh !== "") controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
      },
    });
  }

  get encoding() {
    return "utf-8";
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}
defineToStringTag(TextEncoderStream);
makeEnumerable(TextEncoderStream, ["encoding", "readable", "writable"]);

export class TextDecoderStream {
  #decoder;
  #transform;

  constructor(label = "utf-8", options = {}) {
    const decoder = new TextDecoder(label, options);
    this.#decoder = decoder;
    this.#transform = new TransformStream({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true });
        if (text !== "") controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text !== "") controller.enqueue(text);
      },
    });
  }

  get encoding() {
    return this.#decoder.encoding;
  }

  get fatal() {
    return this.#decoder.fatal;
  }

  get ignoreBOM() {
    return this.#decoder.ignoreBOM;
  }

  get readable() {
    return this.#transform.readable;
  }

  get writable() {
    return this.#transform.writable;
  }
}
defineToStringTag(TextDecoderStream);
makeEnumerable(TextDecoderStream, ["encoding", "fatal", "ignoreBOM", "readable", "writable"]);
