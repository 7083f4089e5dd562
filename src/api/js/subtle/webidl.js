// WebIDL conversions for the dictionaries of WebCrypto: required members, [EnforceRange]
// integers, BigInteger, enums and the JsonWebKey dictionary. Failures are TypeErrors.
import { copyBytes } from "./bytes.js";
import { kUsageOrder } from "./crypto_key.js";

// A required dictionary member, or a TypeError naming the dictionary.
export function required(dict, member, type) {
  const value = dict[member];
  if (value === undefined) {
    throw new TypeError(`Failed to read the '${member}' property from '${type}': Required member is undefined.`);
  }
  return value;
}

// [EnforceRange] integer types: finite, truncated, in range.
export function enforceRange(value, max, what) {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`${what} is not a finite number`);
  const t = Math.trunc(n);
  if (t < 0 || t > max) throw new TypeError(`${what} is outside the range [0, ${max}]`);
  return t;
}

export const kOctet = 0xff;
export const kUnsignedShort = 0xffff;
export const kUnsignedLong = 0xffffffff;

export function requiredInteger(dict, member, type, max) {
  return enforceRange(required(dict, member, type), max, `${type}.${member}`);
}

export function optionalInteger(dict, member, type, max) {
  const value = dict[member];
  return value === undefined ? undefined : enforceRange(value, max, `${type}.${member}`);
}

export function requiredBytes(dict, member, type) {
  return copyBytes(required(dict, member, type), `${type}.${member}`);
}

export function optionalBytes(dict, member, type) {
  const value = dict[member];
  return value === undefined ? undefined : copyBytes(value, `${type}.${member}`);
}

export function requiredString(dict, member, type) {
  return String(required(dict, member, type));
}

// BigInteger is a Uint8Array (big-endian).
export function bigInteger(value, what) {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} is not of type 'Uint8Array'`);
  return value.slice();
}

export function toEnum(value, allowed, what) {
  const s = String(value);
  if (!allowed.includes(s)) {
    throw new TypeError(`The provided value '${s}' is not a valid enum value of type ${what}.`);
  }
  return s;
}

export const kKeyFormats = ["raw", "spki", "pkcs8", "jwk"];

// sequence<KeyUsage>, deduplicated into the enum's order.
export function toUsages(value) {
  if (value === null || typeof value !== "object" || typeof value[Symbol.iterator] !== "function") {
    throw new TypeError("keyUsages is not iterable");
  }
  const seen = new Set();
  for (const item of value) seen.add(toEnum(item, kUsageOrder, "KeyUsage"));
  return kUsageOrder.filter((u) => seen.has(u));
}

const kJwkStrings = [
  "kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k",
];

// The JsonWebKey dictionary: the members we read, converted to their IDL types.
export function toJwk(value) {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    throw new TypeError("keyData is not a JsonWebKey dictionary");
  }
  const jwk = {};
  for (const name of kJwkStrings) {
    if (value[name] !== undefined) jwk[name] = String(value[name]);
  }
  if (value.ext !== undefined) jwk.ext = Boolean(value.ext);
  if (value.key_ops !== undefined) {
    const ops = value.key_ops;
    if (ops === null || typeof ops !== "object" || typeof ops[Symbol.iterator] !== "function") {
      throw new TypeError("JsonWebKey.key_ops is not iterable");
    }
    jwk.key_ops = [...ops].map(String);
  }
  if (value.oth !== undefined) jwk.oth = value.oth;
  return jwk;
}
