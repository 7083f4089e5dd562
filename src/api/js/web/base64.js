// atob and btoa (HTML "forgiving-base64"), with the InvalidCharacterError DOMException the spec
// asks for. Strings here are "binary strings": one code unit per byte.
import { DOMException } from "./dom_exception.js";
import { requireArgs } from "./util.js";

const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const kDecodeTable = new Int16Array(128).fill(-1);
for (let i = 0; i < kAlphabet.length; i++) kDecodeTable[kAlphabet.charCodeAt(i)] = i;

function invalidCharacter(message) {
  return new DOMException(message, "InvalidCharacterError");
}

// Joins code units in slices so very long outputs do not overflow the argument limit.
function fromCodes(codes) {
  let out = "";
  for (let i = 0; i < codes.length; i += 8192) {
    out += String.fromCharCode.apply(null, codes.subarray(i, i + 8192));
  }
  return out;
}

export function btoa(data) {
  requireArgs(arguments.length, 1, "btoa");
  const s = String(data);
  const out = new Uint8Array(Math.ceil(s.length / 3) * 4);
  let o = 0;
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i);
    const b = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    const c = i + 2 < s.length ? s.charCodeAt(i + 2) : 0;
    if (a > 0xff || b > 0xff || c > 0xff) {
      throw invalidCharacter("btoa: the string contains characters outside of the Latin1 range");
    }
    const n = (a << 16) | (b << 8) | c;
    out[o++] = kAlphabet.charCodeAt(n >> 18);
    out[o++] = kAlphabet.charCodeAt((n >> 12) & 63);
    out[o++] = i + 1 < s.length ? kAlphabet.charCodeAt((n >> 6) & 63) : 61; // '='
    out[o++] = i + 2 < s.length ? kAlphabet.charCodeAt(n & 63) : 61;
  }
  return fromCodes(out);
}

export function atob(data) {
  requireArgs(arguments.length, 1, "atob");
  let s = String(data).replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) {
    if (s.endsWith("==")) s = s.slice(0, -2);
    else if (s.endsWith("=")) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1) throw invalidCharacter("atob: the string is not correctly encoded");
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const value = code < 128 ? kDecodeTable[code] : -1;
    if (value < 0) throw invalidCharacter("atob: the string contains an invalid character");
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  return fromCodes(out.subarray(0, o));
}
