// RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP: spki, pkcs8 and jwk keys, generation, sign/verify
// and OAEP encryption. The hash is the key's, fixed at import or generation.
import {
  checkJwk, checkJwkAlg, checkUsages, encodeJwk, jwkBytes, newKeyPair, requireFormat,
  splitPairUsages,
} from "./common.js";
import { newKey } from "./crypto_key.js";
import { domError } from "./errors.js";
import { normalizeHash } from "./hash.js";
import {
  bigInteger, kUnsignedLong, optionalBytes, required, requiredInteger,
} from "./webidl.js";

const kPrivateMembers = ["d", "p", "q", "dp", "dq", "qi"];

const kVariants = {
  "RSASSA-PKCS1-v1_5": {
    use: "sig",
    publicUsages: ["verify"],
    privateUsages: ["sign"],
    jwkAlg: (hash) => `RS${hash.slice(4)}`,
    ops: { sign: () => ({}), verify: () => ({}) },
  },
  "RSA-PSS": {
    use: "sig",
    publicUsages: ["verify"],
    privateUsages: ["sign"],
    jwkAlg: (hash) => `PS${hash.slice(4)}`,
    ops: {
      sign: (d) => ({ saltLength: requiredInteger(d, "saltLength", "RsaPssParams", kUnsignedLong) }),
      verify: (d) => ({ saltLength: requiredInteger(d, "saltLength", "RsaPssParams", kUnsignedLong) }),
    },
  },
  "RSA-OAEP": {
    use: "enc",
    publicUsages: ["encrypt", "wrapKey"],
    privateUsages: ["decrypt", "unwrapKey"],
    jwkAlg: (hash) => (hash === "SHA-1" ? "RSA-OAEP" : `RSA-OAEP-${hash.slice(4)}`),
    ops: {
      encrypt: (d) => ({ label: optionalBytes(d, "label", "RsaOaepParams") }),
      decrypt: (d) => ({ label: optionalBytes(d, "label", "RsaOaepParams") }),
    },
  },
};

function keyAlgorithm(native, name, handle, hash) {
  const info = native.cryptoKeyInfo(handle);
  return {
    name,
    modulusLength: info.modulusLength,
    publicExponent: new Uint8Array(info.publicExponent),
    hash,
  };
}

function importJwk(native, jwk, variant, usages, extractable, hash) {
  checkJwk(jwk, { kty: "RSA", use: variant.use, usages, extractable });
  checkJwkAlg(jwk, variant.jwkAlg(hash.name));
  const parts = { n: jwkBytes(jwk, "n"), e: jwkBytes(jwk, "e") };
  if (jwk.d !== undefined) {
    if (jwk.oth !== undefined) throw domError("NotSupportedError", "Multi-prime RSA keys are not supported");
    for (const m of kPrivateMembers) parts[m] = jwkBytes(jwk, m);
  }
  return native.cryptoImportKey("jwk", "rsa", parts);
}

function makeRsa(name, variant) {
  const nativeParams = (alg, key) => ({ ...alg, name: undefined, hash: key.algorithm.hash.name });
  const impl = {
    name,
    params: {
      ...variant.ops,
      importKey: (d) => ({ hash: normalizeHash(required(d, "hash", "RsaHashedImportParams")) }),
      generateKey: (d) => ({
        modulusLength: requiredInteger(d, "modulusLength", "RsaHashedKeyGenParams", kUnsignedLong),
        publicExponent: bigInteger(required(d, "publicExponent", "RsaHashedKeyGenParams"),
          "RsaHashedKeyGenParams.publicExponent"),
        hash: normalizeHash(required(d, "hash", "RsaHashedKeyGenParams")),
      }),
    },

    importKey(native, format, keyData, alg, extractable, usages) {
      requireFormat(format, ["spki", "pkcs8", "jwk"], name);
      let handle;
      if (format === "jwk") {
        const type = keyData.d === undefined ? "public" : "private";
        checkUsages(usages, type === "public" ? variant.publicUsages : variant.privateUsages, name);
        handle = importJwk(native, keyData, variant, usages, extractable, alg.hash);
      } else {
        const allowed = format === "spki" ? variant.publicUsages : variant.privateUsages;
        checkUsages(usages, allowed, name);
        handle = native.cryptoImportKey(format, "rsa", keyData);
      }
      const type = native.cryptoKeyInfo(handle).type;
      return newKey(type, extractable, keyAlgorithm(native, name, handle, alg.hash), usages, handle);
    },

    exportKey(native, format, key) {
      requireFormat(format, ["spki", "pkcs8", "jwk"], name);
      if (format !== "jwk") return native.cryptoExportKey(key.handle, format);
      const parts = native.cryptoExportKey(key.handle, "jwk");
      return encodeJwk({ kty: "RSA", alg: variant.jwkAlg(key.algorithm.hash.name) }, parts, key);
    },

    generateKey(native, alg, extractable, usages) {
      const split = splitPairUsages(usages, variant.publicUsages, variant.privateUsages, name);
      const handles = native.cryptoGenerateKey("rsa", {
        modulusLength: alg.modulusLength,
        publicExponent: alg.publicExponent,
      });
      return newKeyPair(handles, keyAlgorithm(native, name, handles[0], alg.hash), extractable, split);
    },
  };
  for (const op of Object.keys(variant.ops)) {
    const nativeOp = { sign: "cryptoSign", encrypt: "cryptoEncrypt", decrypt: "cryptoDecrypt" }[op];
    if (op === "verify") {
      impl.verify = (native, alg, key, signature, data) =>
        native.cryptoVerify(name, key.handle, signature, data, nativeParams(alg, key));
    } else {
      impl[op] = (native, alg, key, data) =>
        native[nativeOp](name, key.handle, data, nativeParams(alg, key));
    }
  }
  return impl;
}

export const kRsaAlgorithms = Object.entries(kVariants).map(([name, v]) => makeRsa(name, v));
