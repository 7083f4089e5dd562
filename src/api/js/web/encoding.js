// TextEncoder and TextDecoder (WHATWG Encoding, UTF-8 only). The byte work is done by the
// natives; this file owns labels, BOM handling and the buffering of incomplete sequences that
// `decode(..., { stream: true })` needs.
import { native } from "./native.js";
import { bufferSourceBytes, defineToStringTag, isUint8Array, makeEnumerable, toUSVString } from "./util.js";

const kUtf8Labels = new Set([
  "unicode-1-1-utf-8",
  "unicode11utf8",
  "unicode20utf8",
  "utf-8",
  "utf8",
  "x-unicode20utf8",
]);

// UTF-8 decode with BOM stripping and replacement characters; the body mixin and Blob use it.
export function utf8DecodeLossy(bytes) {
  const text = native.utf8Decode(bytes, false);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// UTF-8 decode that keeps a leading BOM, as the URL Standard's "UTF-8 decode without BOM" does.
export function utf8DecodeWithoutBOM(bytes) {
  return native.utf8Decode(bytes, false);
}

export function utf8Encode(text) {
  return native.utf8Encode(text);
}

export class TextEncoder {
  get encoding() {
    return "utf-8";
  }

  encode(input = "") {
    return native.utf8Encode(toUSVString(input));
  }

  encodeInto(source, destination) {
    if (!isUint8Array(destination)) {
      throw new TypeError("TextEncoder.encodeInto: destination must be a Uint8Array");
    }
    const [read, written] = native.utf8EncodeInto(toUSVString(source), destination);
    return { read, written };
  }
}
defineToStringTag(TextEncoder);
makeEnumerable(TextEncoder, ["encoding", "encode", "encodeInto"]);

// How many bytes at the end of `bytes` form a prefix of a valid multi-byte sequence that more
// input could still complete. Those bytes are held back while streaming.
function incompleteTailLength(bytes) {
  const end = bytes.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const lead = bytes[end - back];
    if ((lead & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    let need;
    if (lead >= 0xc2 && lead <= 0xdf) need = 2;
    else if (lead >= 0xe0 && lead <= 0xef) need = 3;
    else if (lead >= 0xf0 && lead <= 0xf4) need = 4;
    else return 0;
    if (back >= need) return 0;
    if (back >= 2) {
      // The second byte has a narrower range after some lead bytes.
      const second = bytes[end - back + 1];
      let lo = 0x80;
      let hi = 0xbf;
      if (lead === 0xe0) lo = 0xa0;
      else if (lead === 0xed) hi = 0x9f;
      else if (lead === 0xf0) lo = 0x90;
      else if (lead === 0xf4) hi = 0x8f;
      if (second < lo || second > hi) return 0;
    }
    return back;
  }
  return 0;
}

export class TextDecoder {
  #fatal;
  #ignoreBOM;
  #pending = null; // Uint8Array of held-back bytes while streaming
  #bomSeen = false;
  #streaming = false;

  constructor(label = "utf-8", options = {}) {
    const normalized = String(label).trim().toLowerCase();
    if (!kUtf8Labels.has(normalized)) {
      throw new RangeError(`The "${label}" encoding is not supported`);
    }
    options ??= {};
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return "utf-8";
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input = undefined, options = {}) {
    let bytes;
    if (input === undefined) {
      bytes = new Uint8Array(0);
    } else {
      bytes = bufferSourceBytes(input);
      if (bytes === null) {
        throw new TypeError(
          "TextDecoder.decode: input must be an ArrayBuffer, a TypedArray or a DataView",
        );
      }
    }
    const stream = Boolean(options?.stream);
    if (!this.#streaming) {
      // A new stream: forget the BOM state of the previous one.
      this.#bomSeen = false;
      this.#pending = null;
    }
    this.#streaming = stream;

    if (this.#pending !== null) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = null;
    }
    if (stream) {
      const tail = incompleteTailLength(bytes);
      if (tail > 0) {
        this.#pending = bytes.slice(bytes.length - tail);
        bytes = bytes.subarray(0, bytes.length - tail);
      }
    }
    let text;
    try {
      text = bytes.length === 0 ? "" : native.utf8Decode(bytes, this.#fatal);
    } catch (error) {
      this.#pending = null;
      this.#streaming = false;
      throw error;
    }
    if (!this.#bomSeen && text.length > 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }
}
defineToStringTag(TextDecoder);
makeEnumerable(TextDecoder, ["encoding", "fatal", "ignoreBOM", "decode"]);
