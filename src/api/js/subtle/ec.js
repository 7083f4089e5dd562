// ECDSA and ECDH on P-256, P-384 and P-521, and Ed25519 and X25519: raw (public), spki, pkcs8
// and jwk keys, generation, ECDSA/Ed25519 signatures (raw r || s) and ECDH/X25519 deriveBits.
import {
  checkJwk, checkJwkAlg, checkUsages, encodeJwk, jwkBytes, newKeyPair, requireFormat,
  splitPairUsages, truncateBits,
} from "./common.js";
import { keySlots, newKey } from "./crypto_key.js";
import { domError, notSupported } from "./errors.js";
import { normalizeHash } from "./hash.js";
import { required, requiredString } from "./webidl.js";

const kCurves = ["P-256", "P-384", "P-521"];
const kEcdsaJwkAlg = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };

// The family's shape: which native key kind, JWK kty, curve and usages.
const kFamilies = {
  ECDSA: { kind: "ec", kty: "EC", use: "sig", publicUsages: ["verify"], privateUsages: ["sign"] },
  ECDH: {
    kind: "ec", kty: "EC", use: "enc", publicUsages: [], privateUsages: ["deriveKey", "deriveBits"],
  },
  Ed25519: {
    kind: "ed25519", kty: "OKP", crv: "Ed25519", use: "sig", publicUsages: ["verify"],
    privateUsages: ["sign"],
  },
  X25519: {
    kind: "x25519", kty: "OKP", crv: "X25519", use: "enc", publicUsages: [],
    privateUsages: ["deriveKey", "deriveBits"],
  },
};

function curveParams(d, type) {
  return { namedCurve: requiredString(d, "namedCurve", type) };
}

function deriveParams(d) {
  const key = keySlots(required(d, "public", "EcdhKeyDeriveParams"), "EcdhKeyDeriveParams.public");
  return { public: key };
}

function makeFamily(name, f) {
  const curved = f.kind === "ec";
  const algorithmOf = (alg) => (curved ? { name, namedCurve: alg.namedCurve } : { name });
  const checkCurve = (alg) => {
    if (curved && !kCurves.includes(alg.namedCurve)) {
      throw notSupported(`Unsupported named curve: ${alg.namedCurve}`);
    }
  };
  const noParams = () => ({});
  const keyParams = curved ? (d) => curveParams(d, "EcKeyImportParams") : noParams;
  const genParams = curved ? (d) => curveParams(d, "EcKeyGenParams") : noParams;
  const ops =
    f.use === "sig"
      ? {
          sign: name === "ECDSA" ? (d) => ({ hash: normalizeHash(required(d, "hash", "EcdsaParams")) }) : noParams,
          verify: name === "ECDSA" ? (d) => ({ hash: normalizeHash(required(d, "hash", "EcdsaParams")) }) : noParams,
        }
      : { deriveBits: deriveParams };
  const signParams = (alg) => (alg.hash ? { hash: alg.hash.name } : {});

  const impl = {
    name,
    params: { ...ops, importKey: keyParams, generateKey: genParams },

    importKey(native, format, keyData, alg, extractable, usages) {
      checkCurve(alg);
      let type = format === "pkcs8" ? "private" : "public";
      let data = keyData;
      if (format === "jwk") {
        if (keyData.d !== undefined) type = "private";
        checkJwk(keyData, { kty: f.kty, use: f.use, usages, extractable });
        const crv = curved ? alg.namedCurve : f.crv;
        if (keyData.crv !== crv) throw domError("DataError", `The JWK "crv" member was not "${crv}"`);
        if (name === "ECDSA") checkJwkAlg(keyData, kEcdsaJwkAlg[crv]);
        if (name === "Ed25519" && keyData.alg !== undefined && keyData.alg !== "Ed25519") {
          checkJwkAlg(keyData, "EdDSA");
        }
        data = { x: jwkBytes(keyData, "x") };
        if (curved) data.y = jwkBytes(keyData, "y");
        if (type === "private") data.d = jwkBytes(keyData, "d");
      } else {
        requireFormat(format, ["raw", "spki", "pkcs8"], name);
      }
      checkUsages(usages, type === "public" ? f.publicUsages : f.privateUsages, name);
      const handle = native.cryptoImportKey(format, f.kind, data, alg.namedCurve);
      return newKey(type, extractable, algorithmOf(alg), usages, handle);
    },

    exportKey(native, format, key) {
      requireFormat(format, ["raw", "spki", "pkcs8", "jwk"], name);
      if (format === "raw" && key.type !== "public") {
        throw domError("InvalidAccessError", "Only public keys can be exported as raw");
      }
      if (format !== "jwk") return native.cryptoExportKey(key.handle, format);
      const parts = native.cryptoExportKey(key.handle, "jwk");
      const crv = curved ? key.algorithm.namedCurve : f.crv;
      // The Secure Curves draft names Ed25519 JWKs "Ed25519" (RFC 8037 says "EdDSA").
      const base = name === "Ed25519" ? { kty: f.kty, crv, alg: "Ed25519" } : { kty: f.kty, crv };
      return encodeJwk(base, parts, key);
    },

    generateKey(native, alg, extractable, usages) {
      checkCurve(alg);
      const split = splitPairUsages(usages, f.publicUsages, f.privateUsages, name);
      const handles = native.cryptoGenerateKey(f.kind, { namedCurve: alg.namedCurve });
      return newKeyPair(handles, algorithmOf(alg), extractable, split);
    },
  };

  if (f.use === "sig") {
    impl.sign = (native, alg, key, data) =>
      native.cryptoSign(name, key.handle, data, signParams(alg));
    impl.verify = (native, alg, key, signature, data) =>
      native.cryptoVerify(name, key.handle, signature, data, signParams(alg));
  } else {
    impl.deriveBits = (native, alg, key, length) => {
      const peer = alg.public;
      if (peer.type !== "public") {
        throw domError("InvalidAccessError", "The public member must be a public key");
      }
      if (peer.algorithm.name !== name || peer.algorithm.namedCurve !== key.algorithm.namedCurve) {
        throw domError("InvalidAccessError", "The public key's algorithm does not match the base key");
      }
      const bits = native.cryptoDeriveBits(name, key.handle, { public: peer.handle }, null);
      return truncateBits(bits, length);
    };
  }
  return impl;
}

export const kEcAlgorithms = Object.entries(kFamilies).map(([name, f]) => makeFamily(name, f));
