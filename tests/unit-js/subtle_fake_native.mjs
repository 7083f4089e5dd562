// A fake of the crypto* natives (src/api/crypto_natives.cc) on node:crypto, so the subtle JS layer
// can be tested under Node against Node's own WebCrypto. It follows the natives' contract:
// handles are opaque objects, JWK members travel as ArrayBuffers, errors carry DOMException names.
// The real natives are tested inside V8 by src/api/crypto_natives_test.cc.
import { Buffer } from "node:buffer";
import crypto from "node:crypto";

const kHashes = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
const kCurves = { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" };
const kCurveBytes = { "P-256": 32, "P-384": 48, "P-521": 66 };
const kJwkCurves = { "P-256": "P-256", "P-384": "P-384", "P-521": "P-521" };
const kKeyTypes = { rsa: "rsa", ec: "ec", ed25519: "ed25519", x25519: "x25519" };
const kOkpCurves = { ed25519: "Ed25519", x25519: "X25519" };

function named(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

const buf = (v) => Buffer.from(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength);
const ab = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
const b64u = (v) => buf(v).toString("base64url");
const fromB64u = (s) => Buffer.from(s, "base64url");

function hashOf(name) {
  const h = kHashes[name];
  if (!h) throw named("NotSupportedError", `Unrecognized hash algorithm: ${name}`);
  return h;
}

function handle(type, kind, key) {
  return { type, kind, key };
}

function curveName(key) {
  const c = key.asymmetricKeyDetails?.namedCurve;
  return Object.keys(kCurves).find((k) => kCurves[k] === c);
}

function importAsymmetric(format, kind, data, curve) {
  let key;
  let type = format === "pkcs8" ? "private" : "public";
  try {
    if (format === "spki") key = crypto.createPublicKey({ key: buf(data), format: "der", type: "spki" });
    else if (format === "pkcs8") key = crypto.createPrivateKey({ key: buf(data), format: "der", type: "pkcs8" });
    else if (format === "raw") {
      const raw = buf(data);
      const jwk = kind === "ec"
        ? { kty: "EC", crv: kJwkCurves[curve], x: b64u(raw.subarray(1, 1 + kCurveBytes[curve])),
            y: b64u(raw.subarray(1 + kCurveBytes[curve])) }
        : { kty: "OKP", crv: kOkpCurves[kind], x: b64u(raw) };
      if (kind === "ec" && (raw[0] !== 4 || raw.length !== 1 + 2 * kCurveBytes[curve])) throw new Error();
      key = crypto.createPublicKey({ key: jwk, format: "jwk" });
    } else {
      const jwk = { kty: kind === "rsa" ? "RSA" : kind === "ec" ? "EC" : "OKP" };
      if (kind === "ec") jwk.crv = kJwkCurves[curve];
      if (kind === "ed25519" || kind === "x25519") jwk.crv = kOkpCurves[kind];
      for (const [name, value] of Object.entries(data)) jwk[name] = b64u(value);
      type = data.d === undefined ? "public" : "private";
      key = type === "public" ? crypto.createPublicKey({ key: jwk, format: "jwk" })
        : crypto.createPrivateKey({ key: jwk, format: "jwk" });
    }
  } catch {
    throw named("DataError", `Invalid ${format} key data`);
  }
  if (key.asymmetricKeyType !== kKeyTypes[kind]) {
    throw named("DataError", "The key is not of the algorithm's key type");
  }
  if (kind === "ec" && curveName(key) !== curve) {
    throw named("DataError", "The key's named curve does not match namedCurve");
  }
  return handle(type, kind, key);
}

function exportJwkParts(h) {
  if (h.kind === "secret") return { k: ab(h.key.export()) };
  const jwk = h.key.export({ format: "jwk" });
  const parts = {};
  for (const name of ["n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y"]) {
    if (jwk[name] !== undefined) parts[name] = ab(fromB64u(jwk[name]));
  }
  return parts;
}

function signOptions(alg, h, params) {
  if (alg === "RSA-PSS") {
    return { key: h.key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength };
  }
  if (alg === "ECDSA") return { key: h.key, dsaEncoding: "ieee-p1363" };
  return h.key;
}

function cipherName(alg, keyBytes) {
  const bits = keyBytes * 8;
  return { "AES-GCM": `aes-${bits}-gcm`, "AES-CBC": `aes-${bits}-cbc`, "AES-CTR": `aes-${bits}-ctr`,
           "AES-KW": `id-aes${bits}-wrap` }[alg];
}

// AES-CTR where only the low `length` bits of the counter count, split where they wrap.
function aesCtr(name, key, counter, length, data) {
  const blocks = BigInt(Math.ceil(data.length / 16));
  const ctr = BigInt(`0x${buf(counter).toString("hex")}`);
  const space = 1n << BigInt(length);
  if (length < 128 && blocks > space) throw named("OperationError", "The counter would repeat");
  const untilWrap = space - (ctr & (space - 1n));
  const run = (iv, part) => {
    const c = crypto.createCipheriv(name, key, iv);
    return Buffer.concat([c.update(part), c.final()]);
  };
  if (length === 128 || blocks <= untilWrap) return run(buf(counter), data);
  const cut = Number(untilWrap) * 16;
  const wrapped = Buffer.from((ctr & ~(space - 1n)).toString(16).padStart(32, "0"), "hex");
  return Buffer.concat([run(buf(counter), data.subarray(0, cut)), run(wrapped, data.subarray(cut))]);
}

function cipher(dir, alg, h, data, params) {
  data = buf(data);
  if (alg === "RSA-OAEP") {
    const opts = { key: h.key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
                   oaepHash: hashOf(params.hash), oaepLabel: params.label && buf(params.label) };
    try {
      return ab(dir === "encrypt" ? crypto.publicEncrypt(opts, data) : crypto.privateDecrypt(opts, data));
    } catch {
      throw named("OperationError", dir === "encrypt" ? "Encryption failed" : "Decryption failed");
    }
  }
  const key = h.key.export();
  const name = cipherName(alg, key.length);
  try {
    if (alg === "AES-CTR") {
      if (params.counter.byteLength !== 16) throw named("OperationError", "The counter must be 16 bytes");
      return ab(aesCtr(name, key, params.counter, params.length, data));
    }
    if (alg === "AES-GCM") {
      const tagBytes = (params.tagLength ?? 128) / 8;
      const opts = { authTagLength: tagBytes };
      if (dir === "encrypt") {
        const c = crypto.createCipheriv(name, key, buf(params.iv), opts);
        if (params.additionalData) c.setAAD(buf(params.additionalData));
        return ab(Buffer.concat([c.update(data), c.final(), c.getAuthTag()]));
      }
      const d = crypto.createDecipheriv(name, key, buf(params.iv), opts);
      if (params.additionalData) d.setAAD(buf(params.additionalData));
      d.setAuthTag(data.subarray(data.length - tagBytes));
      return ab(Buffer.concat([d.update(data.subarray(0, data.length - tagBytes)), d.final()]));
    }
    const iv = alg === "AES-KW" ? Buffer.from("A6A6A6A6A6A6A6A6", "hex") : buf(params.iv);
    const c = dir === "encrypt" ? crypto.createCipheriv(name, key, iv) : crypto.createDecipheriv(name, key, iv);
    return ab(Buffer.concat([c.update(data), c.final()]));
  } catch (e) {
    if (e.name === "OperationError") throw e;
    throw named("OperationError", dir === "encrypt" ? "Encryption failed" : "Decryption failed");
  }
}

export function makeFakeCryptoNative() {
  return {
    cryptoDigest: (alg, data) => ab(crypto.createHash(hashOf(alg)).update(buf(data)).digest()),
    cryptoHmac: (hash, key, data) => ab(crypto.createHmac(hashOf(hash), buf(key)).update(buf(data)).digest()),

    cryptoImportKey(format, kind, data, curve) {
      if (kind === "secret") return handle("secret", kind, crypto.createSecretKey(buf(data)));
      if (kind === "ec" && !kCurves[curve]) throw named("NotSupportedError", "Unsupported named curve");
      return importAsymmetric(format, kind, data, curve);
    },

    cryptoKeyInfo(h) {
      const info = { type: h.type };
      if (h.kind === "secret") info.length = h.key.symmetricKeySize * 8;
      const details = h.key.asymmetricKeyDetails;
      if (h.kind === "rsa") {
        info.modulusLength = details.modulusLength;
        let e = details.publicExponent.toString(16);
        if (e.length % 2) e = `0${e}`;
        info.publicExponent = new Uint8Array(Buffer.from(e, "hex"));
      }
      if (h.kind === "ec") info.namedCurve = curveName(h.key);
      return info;
    },

    cryptoExportKey(h, format) {
      if (format === "jwk") return exportJwkParts(h);
      if (format === "raw") {
        if (h.kind === "secret") return ab(h.key.export());
        const parts = exportJwkParts(h);
        if (h.kind === "ec") return ab(Buffer.concat([Buffer.from([4]), buf(parts.x), buf(parts.y)]));
        return parts.x;
      }
      const want = format === "spki" ? "public" : "private";
      if (h.type !== want) throw named("InvalidAccessError", `Only ${want} keys export as ${format}`);
      return ab(h.key.export({ format: "der", type: format }));
    },

    cryptoGenerateKey(kind, params) {
      if (kind === "secret") {
        return handle("secret", kind, crypto.createSecretKey(crypto.randomBytes(Math.ceil(params.length / 8))));
      }
      const options = {};
      if (kind === "rsa") {
        options.modulusLength = params.modulusLength;
        options.publicExponent = Number(BigInt(`0x${buf(params.publicExponent).toString("hex")}`));
      }
      if (kind === "ec") options.namedCurve = kCurves[params.namedCurve];
      const { publicKey, privateKey } = crypto.generateKeyPairSync(kKeyTypes[kind], options);
      return [handle("public", kind, publicKey), handle("private", kind, privateKey)];
    },

    cryptoSign(alg, h, data, params) {
      if (alg === "HMAC") return this.cryptoHmac(params.hash, h.key.export(), data);
      const hash = alg === "Ed25519" ? null : hashOf(params.hash);
      return ab(crypto.sign(hash, buf(data), signOptions(alg, h, params)));
    },

    cryptoVerify(alg, h, signature, data, params) {
      if (alg === "HMAC") {
        const mac = buf(this.cryptoHmac(params.hash, h.key.export(), data));
        return mac.length === signature.byteLength && crypto.timingSafeEqual(mac, buf(signature));
      }
      const hash = alg === "Ed25519" ? null : hashOf(params.hash);
      try {
        return crypto.verify(hash, buf(data), signOptions(alg, h, params), buf(signature));
      } catch {
        return false;
      }
    },

    cryptoEncrypt: (alg, h, data, params) => cipher("encrypt", alg, h, data, params),
    cryptoDecrypt: (alg, h, data, params) => cipher("decrypt", alg, h, data, params),

    cryptoDeriveBits(alg, h, params, length) {
      if (alg === "PBKDF2") {
        if (params.iterations > 100000) {
          throw named("NotSupportedError", "PBKDF2 iteration counts above 100000 are not supported");
        }
        return ab(crypto.pbkdf2Sync(h.key.export(), buf(params.salt), params.iterations, length / 8,
                                    hashOf(params.hash)));
      }
      if (alg === "HKDF") {
        try {
          return crypto.hkdfSync(hashOf(params.hash), h.key.export(), buf(params.salt), buf(params.info),
                                 length / 8);
        } catch {
          throw named("OperationError", "The length is too large for HKDF");
        }
      }
      try {
        return ab(crypto.diffieHellman({ privateKey: h.key, publicKey: params.public.key }));
      } catch {
        throw named("OperationError", `${alg} key agreement failed`);
      }
    },
  };
}
