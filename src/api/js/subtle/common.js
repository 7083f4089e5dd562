// Checks shared by the algorithm families: allowed usages, the JWK members every key type
// validates the same way (kty, use, key_ops, ext) and the key_ops/ext of exported JWKs.
import { base64urlDecode, base64urlEncode } from "./bytes.js";
import { domError, notSupported } from "./errors.js";
import { newKey } from "./crypto_key.js";

export function checkUsages(usages, allowed, name) {
  for (const usage of usages) {
    if (!allowed.includes(usage)) {
      throw domError("SyntaxError", `Cannot create a key using the specified key usages (${name} does not allow '${usage}')`);
    }
  }
}

export function requireFormat(format, allowed, name) {
  if (!allowed.includes(format)) {
    throw notSupported(`${name} keys cannot be imported or exported as '${format}'`);
  }
}

// RFC 7517 checks of an imported JWK against what the import asks for.
export function checkJwk(jwk, { kty, use, usages, extractable }) {
  if (jwk.kty !== kty) throw domError("DataError", `The JWK "kty" member was not "${kty}"`);
  if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
    throw domError("DataError", `The JWK "use" member was not "${use}"`);
  }
  if (jwk.key_ops !== undefined) {
    if (new Set(jwk.key_ops).size !== jwk.key_ops.length) {
      throw domError("DataError", 'The JWK "key_ops" member contains duplicates');
    }
    for (const usage of usages) {
      if (!jwk.key_ops.includes(usage)) {
        throw domError("DataError", `The JWK "key_ops" member does not contain '${usage}'`);
      }
    }
  }
  if (jwk.ext === false && extractable) {
    throw domError("DataError", 'The JWK "ext" member is false but extractable was requested');
  }
}

export function checkJwkAlg(jwk, expected) {
  if (jwk.alg !== undefined && jwk.alg !== expected) {
    throw domError("DataError", `The JWK "alg" member was not "${expected}"`);
  }
}

export function jwkBytes(jwk, member) {
  if (jwk[member] === undefined) throw domError("DataError", `The JWK "${member}" member is missing`);
  return base64urlDecode(jwk[member], member);
}

// Decoded members (ArrayBuffers keyed by name) from the native export, as a JWK.
export function encodeJwk(base, parts, key) {
  const jwk = { ...base };
  for (const name of Object.keys(parts)) jwk[name] = base64urlEncode(new Uint8Array(parts[name]));
  jwk.key_ops = [...key.usages];
  jwk.ext = key.extractable;
  return jwk;
}

// The usages of a generated pair's public and private keys; every usage must be allowed for one
// of them, and the private key needs at least one.
export function splitPairUsages(usages, publicUsages, privateUsages, name) {
  checkUsages(usages, [...publicUsages, ...privateUsages], name);
  const priv = usages.filter((u) => privateUsages.includes(u));
  if (priv.length === 0) throw domError("SyntaxError", "Usages cannot be empty when creating a key.");
  return [usages.filter((u) => publicUsages.includes(u)), priv];
}

// A CryptoKeyPair from the natives' [public, private] handles; the public key is extractable.
export function newKeyPair(handles, algorithm, extractable, [pub, priv]) {
  return {
    publicKey: newKey("public", true, algorithm, pub, handles[0]),
    privateKey: newKey("private", extractable, { ...algorithm }, priv, handles[1]),
  };
}

// WebCrypto's ECDH/X25519 `length`: null takes all bits, more than there are is an error, and a
// length that is not a multiple of 8 keeps the high bits of the last byte.
export function truncateBits(buffer, length) {
  const bytes = new Uint8Array(buffer);
  if (length === null || length === undefined) return buffer;
  if (length > bytes.length * 8) {
    throw domError("OperationError", `The length (${length}) is more than the ${bytes.length * 8} bits derived`);
  }
  const out = bytes.slice(0, Math.ceil(length / 8));
  if (length % 8 !== 0) out[out.length - 1] &= 0xff << (8 - (length % 8));
  return out.buffer;
}
