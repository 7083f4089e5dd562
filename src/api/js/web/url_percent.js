// Percent-encoding for the URL Standard: the encode sets (as ASCII lookup tables; every code
// point above U+007E is in every set), UTF-8 percent-encoding and percent-decoding.
import { utf8DecodeWithoutBOM } from "./encoding.js";

function makeSet(parent, extra) {
  const table = new Uint8Array(128);
  if (parent) table.set(parent);
  for (const ch of extra) table[ch.charCodeAt(0)] = 1;
  return table;
}

const c0 = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) c0[c] = 1;
c0[0x7f] = 1;

export const C0_CONTROL_SET = c0;
export const FRAGMENT_SET = makeSet(c0, ' "<>`');
export const QUERY_SET = makeSet(c0, ' "#<>');
export const SPECIAL_QUERY_SET = makeSet(QUERY_SET, "'");
export const PATH_SET = makeSet(QUERY_SET, "?^`{}");
export const USERINFO_SET = makeSet(PATH_SET, "/:;=@[\\]^|");
export const COMPONENT_SET = makeSet(USERINFO_SET, "$%&+,");
export const FORM_SET = makeSet(COMPONENT_SET, "!'()~");

const kHex = "0123456789ABCDEF";

function encodeByte(b) {
  return "%" + kHex[b >> 4] + kHex[b & 15];
}

// Appends the UTF-8 bytes of code point `cp` to `out` (a lone surrogate becomes U+FFFD).
function pushUtf8(out, cp) {
  if (cp < 0x80) {
    out.push(cp);
  } else if (cp < 0x800) {
    out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  } else if (cp < 0x10000) {
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  } else {
    out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
}

// UTF-8 percent-encodes one code point if it is in `set`.
export function encodeCodePoint(cp, set) {
  if (cp < 0x80) return set[cp] ? encodeByte(cp) : String.fromCharCode(cp);
  const bytes = [];
  pushUtf8(bytes, cp);
  return bytes.map(encodeByte).join("");
}

// UTF-8 percent-encodes a string; with `spaceAsPlus`, U+0020 becomes '+' (form encoding).
export function encodeString(input, set, spaceAsPlus = false) {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const unit = input.charCodeAt(i);
    if (unit < 0x80) {
      if (spaceAsPlus && unit === 0x20) out += "+";
      else out += set[unit] ? encodeByte(unit) : input[i];
      continue;
    }
    const cp = input.codePointAt(i);
    if (cp > 0xffff) i++;
    out += encodeCodePoint(cp, set);
  }
  return out;
}

function hexValue(unit) {
  if (unit >= 0x30 && unit <= 0x39) return unit - 0x30;
  if (unit >= 0x41 && unit <= 0x46) return unit - 0x37;
  if (unit >= 0x61 && unit <= 0x66) return unit - 0x57;
  return -1;
}

// Percent-decodes the UTF-8 bytes of `input` and decodes the result as UTF-8 (lossy, BOM kept).
// With `plusAsSpace`, '+' decodes to a space first (form decoding).
export function decodeString(input, plusAsSpace = false) {
  if (!input.includes("%")) {
    return plusAsSpace && input.includes("+") ? input.replace(/\+/g, " ") : input;
  }
  const bytes = [];
  for (let i = 0; i < input.length; i++) {
    const unit = input.charCodeAt(i);
    if (unit === 0x25 && i + 2 < input.length) {
      const hi = hexValue(input.charCodeAt(i + 1));
      const lo = hexValue(input.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes.push((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    if (plusAsSpace && unit === 0x2b) {
      bytes.push(0x20);
    } else if (unit < 0x80) {
      bytes.push(unit);
    } else {
      const cp = input.codePointAt(i);
      if (cp > 0xffff) i++;
      pushUtf8(bytes, cp);
    }
  }
  return utf8DecodeWithoutBOM(new Uint8Array(bytes));
}
