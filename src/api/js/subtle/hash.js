// The digest algorithms: what `hash` members normalize to, and their sizes.
import { notSupported } from "./errors.js";

const kHashes = new Map([
  ["SHA-1", { bits: 160, blockBits: 512 }],
  ["SHA-256", { bits: 256, blockBits: 512 }],
  ["SHA-384", { bits: 384, blockBits: 1024 }],
  ["SHA-512", { bits: 512, blockBits: 1024 }],
]);

export const kHashNames = [...kHashes.keys()];

export function asciiUpper(s) {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

// The name of an algorithm identifier: a string, or an object's `name` member.
export function algorithmName(algorithm) {
  if (algorithm !== null && (typeof algorithm === "object" || typeof algorithm === "function")) {
    const name = algorithm.name;
    if (name === undefined) {
      throw new TypeError("Failed to read the 'name' property from 'Algorithm': Required member is undefined.");
    }
    return String(name);
  }
  return String(algorithm);
}

// A HashAlgorithmIdentifier normalized for "digest": { name: "SHA-256" }.
export function normalizeHash(algorithm) {
  const name = asciiUpper(algorithmName(algorithm));
  if (!kHashes.has(name)) throw notSupported(`Unrecognized hash algorithm: ${algorithmName(algorithm)}`);
  return { name };
}

export function hashBlockBits(name) {
  return kHashes.get(name).blockBits;
}

export function hashBits(name) {
  return kHashes.get(name).bits;
}
