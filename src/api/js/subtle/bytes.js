// Byte helpers of the subtle layer: copies of BufferSource arguments, base64url for JWK members
// and strict UTF-8 for wrapped JWKs. They use no globals that party code could replace.
import { domError } from "./errors.js";

const toStringTag = Object.prototype.toString;

export function isBufferSource(value) {
  return ArrayBuffer.isView(value) || toStringTag.call(value) === "[object ArrayBuffer]";
}

// WebIDL BufferSource, copied: the operation must not see later writes by the caller.
export function copyBytes(value, what) {
  if (!isBufferSource(value)) {
    throw new TypeError(`${what} is not of type '(ArrayBuffer or ArrayBufferView)'`);
  }
  if (value.byteLength === 0) return new Uint8Array(0); // also a detached buffer
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  return new Uint8Array(value).slice();
}

const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const kDecode = new Int16Array(128).fill(-1);
for (let i = 0; i < kAlphabet.length; i++) kDecode[kAlphabet.charCodeAt(i)] = i;

export function base64urlEncode(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[n >> 18] + kAlphabet[(n >> 12) & 63] + kAlphabet[(n >> 6) & 63] +
      kAlphabet[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += kAlphabet[n >> 18] + kAlphabet[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

// base64url without padding (RFC 7515 section 2); anything else is a DataError.
export function base64urlDecode(text, member) {
  const bad = () => domError("DataError", `The JWK "${member}" member is not valid base64url`);
  if (typeof text !== "string" || text.length % 4 === 1) throw bad();
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? kDecode[c] : -1;
    if (v < 0) throw bad();
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function utf8Encode(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.codePointAt(i);
    if (c > 0xffff) i++;
    else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return new Uint8Array(out);
}

// Strict UTF-8: malformed input (overlong forms, surrogates, truncation) is a DataError.
export function utf8Decode(bytes) {
  const bad = () => domError("DataError", "The unwrapped key is not valid UTF-8");
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let need;
    let c;
    let min;
    if (b < 0x80) [need, c, min] = [0, b, 0];
    else if (b >= 0xc2 && b < 0xe0) [need, c, min] = [1, b & 31, 0x80];
    else if (b >= 0xe0 && b < 0xf0) [need, c, min] = [2, b & 15, 0x800];
    else if (b >= 0xf0 && b < 0xf5) [need, c, min] = [3, b & 7, 0x10000];
    else throw bad();
    for (let k = 1; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) throw bad();
      c = (c << 6) | (next & 63);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw bad();
    out += String.fromCodePoint(c);
    i += need + 1;
  }
  return out;
}
