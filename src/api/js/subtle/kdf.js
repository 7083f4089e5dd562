// PBKDF2 and HKDF: non-extractable raw base keys and deriveBits (so also deriveKey).
import { checkUsages, requireFormat } from "./common.js";
import { newKey } from "./crypto_key.js";
import { domError } from "./errors.js";
import { normalizeHash } from "./hash.js";
import { kUnsignedLong, required, requiredBytes, requiredInteger } from "./webidl.js";

const kUsages = ["deriveKey", "deriveBits"];

const kParams = {
  PBKDF2: (d) => ({
    hash: normalizeHash(required(d, "hash", "Pbkdf2Params")),
    iterations: requiredInteger(d, "iterations", "Pbkdf2Params", kUnsignedLong),
    salt: requiredBytes(d, "salt", "Pbkdf2Params"),
  }),
  HKDF: (d) => ({
    hash: normalizeHash(required(d, "hash", "HkdfParams")),
    info: requiredBytes(d, "info", "HkdfParams"),
    salt: requiredBytes(d, "salt", "HkdfParams"),
  }),
};

function makeKdf(name, parse) {
  return {
    name,
    params: { deriveBits: parse, importKey: () => ({}), getKeyLength: () => ({}) },

    importKey(native, format, keyData, alg, extractable, usages) {
      requireFormat(format, ["raw"], name);
      checkUsages(usages, kUsages, name);
      if (extractable) throw domError("SyntaxError", `${name} keys cannot be extractable`);
      const handle = native.cryptoImportKey("raw", "secret", keyData);
      return newKey("secret", false, { name }, usages, handle);
    },

    deriveBits(native, alg, key, length) {
      if (length === null || length === undefined) {
        throw domError("OperationError", `${name} needs a length`);
      }
      if (length % 8 !== 0) throw domError("OperationError", "The length must be a multiple of 8");
      if (name === "PBKDF2" && alg.iterations === 0) {
        throw domError("OperationError", "PBKDF2 iterations must be greater than 0");
      }
      const params = { hash: alg.hash.name, salt: alg.salt, info: alg.info, iterations: alg.iterations };
      return native.cryptoDeriveBits(name, key.handle, params, length);
    },

    getKeyLength() {
      return null;
    },
  };
}

export const kKdfAlgorithms = Object.entries(kParams).map(([name, parse]) => makeKdf(name, parse));
