// HMAC: sign/verify with SHA-1/256/384/512, raw and jwk keys, generation, and key length for
// deriveKey.
import { checkJwk, checkJwkAlg, checkUsages, encodeJwk, jwkBytes, requireFormat } from "./common.js";
import { newKey } from "./crypto_key.js";
import { domError } from "./errors.js";
import { hashBlockBits, normalizeHash } from "./hash.js";
import { kUnsignedLong, optionalInteger, required } from "./webidl.js";

const kUsages = ["sign", "verify"];

function params(dict, type) {
  return {
    hash: normalizeHash(required(dict, "hash", type)),
    length: optionalInteger(dict, "length", type, kUnsignedLong),
  };
}

function jwkAlg(hash) {
  return `HS${hash.name.slice(4)}`;
}

export const HMAC = {
  name: "HMAC",
  params: {
    sign: () => ({}),
    verify: () => ({}),
    importKey: (d) => params(d, "HmacImportParams"),
    generateKey: (d) => params(d, "HmacKeyGenParams"),
    getKeyLength: (d) => params(d, "HmacImportParams"),
  },

  sign(native, alg, key, data) {
    return native.cryptoSign("HMAC", key.handle, data, { hash: key.algorithm.hash.name });
  },

  verify(native, alg, key, signature, data) {
    return native.cryptoVerify("HMAC", key.handle, signature, data, { hash: key.algorithm.hash.name });
  },

  importKey(native, format, keyData, alg, extractable, usages) {
    checkUsages(usages, kUsages, "HMAC");
    requireFormat(format, ["raw", "jwk"], "HMAC");
    let bytes = keyData;
    if (format === "jwk") {
      checkJwk(keyData, { kty: "oct", use: "sig", usages, extractable });
      bytes = jwkBytes(keyData, "k");
      checkJwkAlg(keyData, jwkAlg(alg.hash));
    }
    const bits = bytes.length * 8;
    if (bits === 0) throw domError("DataError", "HMAC key data must not be empty");
    let length = bits;
    if (alg.length !== undefined) {
      if (alg.length > bits || alg.length <= bits - 8) {
        throw domError("DataError", `The HMAC length (${alg.length}) does not match the key data (${bits} bits)`);
      }
      length = alg.length;
    }
    const handle = native.cryptoImportKey("raw", "secret", bytes);
    return newKey("secret", extractable, { name: "HMAC", length, hash: alg.hash }, usages, handle);
  },

  exportKey(native, format, key) {
    requireFormat(format, ["raw", "jwk"], "HMAC");
    if (format === "raw") return native.cryptoExportKey(key.handle, "raw");
    const parts = native.cryptoExportKey(key.handle, "jwk");
    return encodeJwk({ kty: "oct", alg: jwkAlg(key.algorithm.hash) }, parts, key);
  },

  generateKey(native, alg, extractable, usages) {
    checkUsages(usages, kUsages, "HMAC");
    const length = alg.length ?? hashBlockBits(alg.hash.name);
    if (length === 0) throw domError("OperationError", "HMAC key length must not be zero");
    const handle = native.cryptoGenerateKey("secret", { length });
    return newKey("secret", extractable, { name: "HMAC", length, hash: alg.hash }, usages, handle);
  },

  getKeyLength(alg) {
    if (alg.length === undefined) return hashBlockBits(alg.hash.name);
    if (alg.length === 0) throw new TypeError("HMAC key length must not be zero");
    return alg.length;
  },
};
