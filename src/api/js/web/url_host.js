// Host parsing and serialisation for the URL Standard: domains (via domain to ASCII), IPv4 in
// all its legacy forms (hex, octal, fewer than four parts), IPv6 with compression and embedded
// IPv4, and opaque hosts of non-special URLs. parseHost() returns the serialised host or null.
import { native } from "./native.js";
import { C0_CONTROL_SET, decodeString, encodeString } from "./url_percent.js";

const kForbiddenHost = /[\x00\t\n\r #/:<>?@[\\\]^|]/;
const kForbiddenDomain = /[\x00-\x20#%/:<>?@[\\\]^|\x7f]/;

export function parseHost(input, isOpaque) {
  if (input.startsWith("[")) {
    if (!input.endsWith("]")) return null;
    const pieces = parseIPv6(input.slice(1, -1));
    return pieces === null ? null : `[${serializeIPv6(pieces)}]`;
  }
  if (isOpaque) {
    if (kForbiddenHost.test(input)) return null;
    return encodeString(input, C0_CONTROL_SET);
  }
  const domain = decodeString(input);
  const ascii = domainToASCII(domain);
  if (ascii === null || kForbiddenDomain.test(ascii)) return null;
  if (endsInANumber(ascii)) {
    const address = parseIPv4(ascii);
    return address === null ? null : serializeIPv4(address);
  }
  return ascii;
}

// The URL Standard's domain to ASCII with beStrict false. An ASCII domain is only lower-cased:
// its "xn--" labels pass through unvalidated, as the web-platform-tests tables expect
// (toascii.json: "xn--a" and "xn--1ug.example" stay as they are). Anything else goes through
// UTS #46 ToASCII (ICU, in web_natives.cc). Returns null on failure or an empty result.
const kAsciiOnly = /^[\x00-\x7f]*$/;

export function domainToASCII(domain) {
  if (kAsciiOnly.test(domain)) {
    return domain === "" ? null : domain.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  }
  return native.domainToASCII(domain);
}

// ---------------------------------------------------------------------------------------------
// IPv4

function endsInANumber(input) {
  const parts = input.split(".");
  if (parts[parts.length - 1] === "") {
    if (parts.length === 1) return false;
    parts.pop();
  }
  const last = parts[parts.length - 1];
  if (last !== "" && /^[0-9]+$/.test(last)) return true;
  return parseIPv4Number(last) !== null;
}

function parseIPv4Number(input) {
  if (input === "") return null;
  let radix = 10;
  if (input.length >= 2 && (input.startsWith("0x") || input.startsWith("0X"))) {
    input = input.slice(2);
    radix = 16;
  } else if (input.length >= 2 && input.startsWith("0")) {
    input = input.slice(1);
    radix = 8;
  }
  if (input === "") return 0;
  const valid = radix === 10 ? /^[0-9]+$/ : radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/;
  if (!valid.test(input)) return null;
  return parseInt(input, radix);
}

function parseIPv4(input) {
  const parts = input.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  if (parts.length > 4) return null;
  const numbers = [];
  for (const part of parts) {
    const n = parseIPv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop();
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let address = last;
  numbers.forEach((n, i) => {
    address += n * 256 ** (3 - i);
  });
  return address;
}

function serializeIPv4(address) {
  const octets = [];
  for (let i = 0; i < 4; i++) {
    octets.unshift(address % 256);
    address = Math.floor(address / 256);
  }
  return octets.join(".");
}

// ---------------------------------------------------------------------------------------------
// IPv6

function isHex(unit) {
  return (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x46) || (unit >= 0x61 && unit <= 0x66);
}

function isDigit(unit) {
  return unit >= 0x30 && unit <= 0x39;
}

// Returns the eight 16-bit pieces, or null.
function parseIPv6(input) {
  const address = [0, 0, 0, 0, 0, 0, 0, 0];
  let pieceIndex = 0;
  let compress = null;
  let p = 0;
  const at = (i) => (i < input.length ? input.charCodeAt(i) : -1);

  if (at(p) === 0x3a) {
    if (at(p + 1) !== 0x3a) return null;
    p += 2;
    compress = ++pieceIndex;
  }
  while (at(p) !== -1) {
    if (pieceIndex === 8) return null;
    if (at(p) === 0x3a) {
      if (compress !== null) return null;
      p++;
      compress = ++pieceIndex;
      continue;
    }
    let value = 0;
    let length = 0;
    while (length < 4 && isHex(at(p))) {
      value = value * 16 + parseInt(input[p], 16);
      p++;
      length++;
    }
    if (at(p) === 0x2e) {
      // An embedded IPv4 address fills the last two pieces.
      if (length === 0) return null;
      p -= length;
      if (pieceIndex > 6) return null;
      let numbersSeen = 0;
      while (at(p) !== -1) {
        let ipv4Piece = null;
        if (numbersSeen > 0) {
          if (at(p) === 0x2e && numbersSeen < 4) p++;
          else return null;
        }
        if (!isDigit(at(p))) return null;
        while (isDigit(at(p))) {
          const number = at(p) - 0x30;
          if (ipv4Piece === null) ipv4Piece = number;
          else if (ipv4Piece === 0) return null;
          else ipv4Piece = ipv4Piece * 10 + number;
          if (ipv4Piece > 255) return null;
          p++;
        }
        address[pieceIndex] = address[pieceIndex] * 0x100 + ipv4Piece;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) pieceIndex++;
      }
      if (numbersSeen !== 4) return null;
      break;
    } else if (at(p) === 0x3a) {
      p++;
      if (at(p) === -1) return null;
    } else if (at(p) !== -1) {
      return null;
    }
    address[pieceIndex++] = value;
  }
  if (compress !== null) {
    let swaps = pieceIndex - compress;
    pieceIndex = 7;
    while (pieceIndex !== 0 && swaps > 0) {
      const other = compress + swaps - 1;
      [address[pieceIndex], address[other]] = [address[other], address[pieceIndex]];
      pieceIndex--;
      swaps--;
    }
  } else if (pieceIndex !== 8) {
    return null;
  }
  return address;
}

function serializeIPv6(pieces) {
  // Compress the first longest run of two or more zero pieces.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (pieces[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && pieces[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? "::" : ":";
      i += bestLength - 1;
      continue;
    }
    out += pieces[i].toString(16);
    if (i < 7) out += ":";
  }
  return out;
}
