// AES-GCM, AES-CBC, AES-CTR and AES-KW: raw and jwk keys of 128, 192 or 256 bits, generation,
// key length for deriveKey, and the ciphers themselves (AES-KW only wraps keys).
import { checkJwk, checkJwkAlg, checkUsages, encodeJwk, jwkBytes, requireFormat } from "./common.js";
import { newKey } from "./crypto_key.js";
import { domError } from "./errors.js";
import {
  kOctet, kUnsignedShort, optionalBytes, optionalInteger, requiredBytes, requiredInteger,
} from "./webidl.js";

function lengthParams(dict, type) {
  return { length: requiredInteger(dict, "length", type, kUnsignedShort) };
}

function checkLength(bits) {
  if (bits !== 128 && bits !== 192 && bits !== 256) {
    throw domError("OperationError", "AES key length must be 128, 192 or 256 bits");
  }
  return bits;
}

const kModes = {
  "AES-GCM": {
    jwk: "GCM",
    usages: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    cipher: (d) => ({
      iv: requiredBytes(d, "iv", "AesGcmParams"),
      additionalData: optionalBytes(d, "additionalData", "AesGcmParams"),
      tagLength: optionalInteger(d, "tagLength", "AesGcmParams", kOctet),
    }),
  },
  "AES-CBC": {
    jwk: "CBC",
    usages: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    cipher: (d) => ({ iv: requiredBytes(d, "iv", "AesCbcParams") }),
  },
  "AES-CTR": {
    jwk: "CTR",
    usages: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    cipher: (d) => ({
      counter: requiredBytes(d, "counter", "AesCtrParams"),
      length: requiredInteger(d, "length", "AesCtrParams", kOctet),
    }),
  },
  "AES-KW": { jwk: "KW", usages: ["wrapKey", "unwrapKey"], cipher: null },
};

const kTagLengths = [32, 64, 96, 104, 112, 120, 128];

// WebCrypto's checks of the cipher parameters (the natives repeat them).
function checkCipherParams(alg) {
  const fail = (message) => domError("OperationError", message);
  if (alg.name === "AES-CBC" && alg.iv.length !== 16) throw fail("The iv must be 16 bytes for AES-CBC");
  if (alg.name === "AES-CTR") {
    if (alg.counter.length !== 16) throw fail("The counter must be 16 bytes");
    if (alg.length === 0 || alg.length > 128) throw fail("Invalid counter length");
  }
  if (alg.name === "AES-GCM" && alg.tagLength !== undefined && !kTagLengths.includes(alg.tagLength)) {
    throw fail("Invalid tagLength");
  }
}

function nativeParams(alg) {
  const { name, ...rest } = alg;
  return rest;
}

function makeAes(name, mode) {
  const jwkAlg = (bits) => `A${bits}${mode.jwk}`;
  const run = (op) => (native, alg, key, data) => {
    checkCipherParams(alg);
    return native[op](name, key.handle, data, nativeParams(alg));
  };
  const ops = mode.cipher
    ? { encrypt: mode.cipher, decrypt: mode.cipher }
    : { wrapKey: () => ({}), unwrapKey: () => ({}) };
  return {
    name,
    params: {
      ...ops,
      importKey: () => ({}),
      generateKey: (d) => lengthParams(d, "AesKeyGenParams"),
      getKeyLength: (d) => lengthParams(d, "AesDerivedKeyParams"),
    },
    ...(mode.cipher
      ? { encrypt: run("cryptoEncrypt"), decrypt: run("cryptoDecrypt") }
      : { wrapKey: run("cryptoEncrypt"), unwrapKey: run("cryptoDecrypt") }),

    importKey(native, format, keyData, alg, extractable, usages) {
      checkUsages(usages, mode.usages, name);
      requireFormat(format, ["raw", "jwk"], name);
      let bytes = keyData;
      if (format === "jwk") {
        checkJwk(keyData, { kty: "oct", use: "enc", usages, extractable });
        bytes = jwkBytes(keyData, "k");
      }
      const bits = bytes.length * 8;
      if (bits !== 128 && bits !== 192 && bits !== 256) {
        throw domError("DataError", "AES key data must be 128, 192 or 256 bits");
      }
      if (format === "jwk") checkJwkAlg(keyData, jwkAlg(bits));
      const handle = native.cryptoImportKey("raw", "secret", bytes);
      return newKey("secret", extractable, { name, length: bits }, usages, handle);
    },

    exportKey(native, format, key) {
      requireFormat(format, ["raw", "jwk"], name);
      if (format === "raw") return native.cryptoExportKey(key.handle, "raw");
      const parts = native.cryptoExportKey(key.handle, "jwk");
      return encodeJwk({ kty: "oct", alg: jwkAlg(key.algorithm.length) }, parts, key);
    },

    generateKey(native, alg, extractable, usages) {
      checkUsages(usages, mode.usages, name);
      const length = checkLength(alg.length);
      const handle = native.cryptoGenerateKey("secret", { length });
      return newKey("secret", extractable, { name, length }, usages, handle);
    },

    getKeyLength(alg) {
      return checkLength(alg.length);
    },
  };
}

export const kAesAlgorithms = Object.entries(kModes).map(([name, mode]) => makeAes(name, mode));
