// node:crypto: hashes and HMACs (streaming, on the node* natives of src/api/node_natives.cc),
// PBKDF2, HKDF, scrypt, random bytes and integers, randomUUID, timingSafeEqual, and webcrypto (the runtime's
// crypto global). All synchronous, as in Node; the callback forms call back in a microtask.
// Ciphers, key objects, signatures and the rest are not there: those names throw.
import { native } from "../web/native.js";
import { getBuffer, toBuffer } from "./buffer.js";
import { invalidArgType, nodeError, withStandIns } from "./common.js";

const kNames = [
  "Certificate", "Cipher", "Cipheriv", "Decipher", "Decipheriv", "DiffieHellman",
  "DiffieHellmanGroup", "ECDH", "Hash", "Hmac", "KeyObject", "Sign", "Verify", "X509Certificate",
  "checkPrime", "checkPrimeSync", "constants", "createCipheriv", "createDecipheriv",
  "createDiffieHellman", "createDiffieHellmanGroup", "createECDH", "createHash", "createHmac",
  "createPrivateKey", "createPublicKey", "createSecretKey", "createSign", "createVerify",
  "diffieHellman", "generateKey", "generateKeyPair", "generateKeyPairSync", "generateKeySync",
  "generatePrime", "generatePrimeSync", "getCipherInfo", "getCiphers", "getCurves",
  "getDiffieHellman", "getFips", "getHashes", "getRandomValues", "hkdf", "hkdfSync", "pbkdf2",
  "pbkdf2Sync", "privateDecrypt", "privateEncrypt", "publicDecrypt", "publicEncrypt",
  "randomBytes", "randomFill", "randomFillSync", "randomInt", "randomUUID", "scrypt",
  "scryptSync", "secureHeapUsed", "setEngine", "setFips", "sign", "subtle", "timingSafeEqual",
  "verify", "webcrypto",
];

const kHashes = [
  "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512-224", "sha512-256", "sha3-224",
  "sha3-256", "sha3-384", "sha3-512", "ripemd160",
];

const kHandle = Symbol("handle");
const kFinished = Symbol("finished");

// The bytes of `data` for update(): a string in `encoding` (utf8 by default), or a view.
function dataBytes(data, encoding) {
  if (typeof data === "string" || ArrayBuffer.isView(data)) return toBuffer(data, encoding);
  throw invalidArgType("data", "of type string or an instance of Buffer, TypedArray, or DataView", data);
}

function output(bytes, encoding) {
  const buffer = getBuffer().from(bytes);
  return encoding === undefined || encoding === "buffer" ? buffer : buffer.toString(encoding);
}

// Hash and Hmac share everything but how they start.
class HashBase {
  update(data, inputEncoding) {
    if (this[kFinished]) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    native.nodeHashUpdate(this[kHandle], dataBytes(data, inputEncoding));
    return this;
  }

  digest(outputEncoding) {
    if (this[kFinished]) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this[kFinished] = true;
    return output(native.nodeHashDigest(this[kHandle]), outputEncoding);
  }
}

export class Hash extends HashBase {
  constructor(algorithm, options) {
    super();
    if (typeof algorithm !== "string") throw invalidArgType("algorithm", "of type string", algorithm);
    this[kHandle] = native.nodeHashNew(algorithm);
    this[kFinished] = false;
  }

  copy() {
    if (this[kFinished]) throw nodeError(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    const copy = Object.create(Hash.prototype);
    copy[kHandle] = native.nodeHashCopy(this[kHandle]);
    copy[kFinished] = false;
    return copy;
  }
}

// An HMAC key: a string (UTF-8), a view or an ArrayBuffer. KeyObject is not implemented.
function keyBytes(key) {
  const bytes = toBuffer(key, "utf8");
  if (bytes === null) {
    throw invalidArgType("key", "of type string or an instance of ArrayBuffer, Buffer, TypedArray or DataView", key);
  }
  return bytes;
}

export class Hmac extends HashBase {
  constructor(algorithm, key, options) {
    super();
    if (typeof algorithm !== "string") throw invalidArgType("hmac", "of type string", algorithm);
    this[kHandle] = native.nodeHmacNew(algorithm, keyBytes(key));
    this[kFinished] = false;
  }
}

// The natives throw TypeError("Invalid digest: x"); Node's error also has a code.
function withDigestCode(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError && e.message.startsWith("Invalid digest")) e.code = "ERR_CRYPTO_INVALID_DIGEST";
    throw e;
  }
}

function createHash(algorithm, options) {
  return new Hash(algorithm, options);
}

function createHmac(algorithm, key, options) {
  return new Hmac(algorithm, key, options);
}

// ---- random ---------------------------------------------------------------------------------

const kMaxRandomBytes = 2 ** 31 - 1;

function checkSize(size, name, max) {
  if (typeof size !== "number") throw invalidArgType(name, "of type number", size);
  if (!Number.isInteger(size) || size < 0 || size > max) {
    throw nodeError(RangeError, "ERR_OUT_OF_RANGE",
      `The value of "${name}" is out of range. It must be >= 0 && <= ${max}. Received ${size}`);
  }
}

function checkCallback(callback) {
  if (typeof callback !== "function") throw invalidArgType("callback", "of type function", callback);
}

// Calls back in a microtask, as the async forms must never call back synchronously.
function callBack(callback, compute) {
  let result;
  let error = null;
  try {
    result = compute();
  } catch (e) {
    error = e;
  }
  queueMicrotask(() => (error === null ? callback(null, result) : callback(error)));
}

function fill(bytes) {
  for (let at = 0; at < bytes.length; at += 65536) {
    native.randomFill(bytes.subarray(at, Math.min(at + 65536, bytes.length)));
  }
  return bytes;
}

function randomBytes(size, callback) {
  checkSize(size, "size", kMaxRandomBytes);
  if (callback === undefined) return fill(getBuffer().alloc(size));
  checkCallback(callback);
  callBack(callback, () => fill(getBuffer().alloc(size)));
}

function fillRange(buf, offset, size, where) {
  if (!ArrayBuffer.isView(buf) && !(buf instanceof ArrayBuffer)) {
    throw invalidArgType("buf", "an instance of ArrayBuffer or ArrayBufferView", buf);
  }
  const bytes = buf instanceof ArrayBuffer
    ? new Uint8Array(buf)
    : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const elementSize = buf.BYTES_PER_ELEMENT || 1;
  checkSize(offset, "offset", bytes.length / elementSize);
  const start = offset * elementSize;
  const count = size === undefined ? bytes.length - start : size * elementSize;
  checkSize(size === undefined ? count / elementSize : size, "size", (bytes.length - start) / elementSize);
  fill(bytes.subarray(start, start + count));
  return buf;
}

function randomFillSync(buf, offset = 0, size = undefined) {
  return fillRange(buf, offset, size, "randomFillSync");
}

function randomFill(buf, offset, size, callback) {
  if (typeof offset === "function") [offset, size, callback] = [0, undefined, offset];
  else if (typeof size === "function") [size, callback] = [undefined, size];
  checkCallback(callback);
  callBack(callback, () => fillRange(buf, offset, size, "randomFill"));
}

// A uniform integer in [min, max) by rejection sampling of 48-bit values, as Node does.
function randomInt(min, max, callback) {
  if (max === undefined || typeof max === "function") [min, max, callback] = [0, min, max];
  for (const [name, v] of [["min", min], ["max", max]]) {
    if (!Number.isSafeInteger(v)) throw invalidArgType(name, "a safe integer", v);
  }
  const range = max - min;
  if (!(range > 0 && range <= 2 ** 48)) {
    throw nodeError(RangeError, "ERR_OUT_OF_RANGE",
      `The value of "max" is out of range. It must be greater than the value of "min" (${min}) and max - min <= 2^48. Received ${max}`);
  }
  const draw = () => {
    const limit = 2 ** 48 - (2 ** 48 % range);
    const six = new Uint8Array(6);
    for (;;) {
      native.randomFill(six);
      const x = six.reduce((acc, b) => acc * 256 + b, 0);
      if (x < limit) return min + (x % range);
    }
  };
  if (callback === undefined) return draw();
  checkCallback(callback);
  callBack(callback, draw);
}

function randomUUID(options) {
  return native.randomUUID();
}

// ---- comparison and derivation ---------------------------------------------------------------

function viewOf(value, name) {
  if (ArrayBuffer.isView(value)) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalidArgType(name, "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", value);
}

function timingSafeEqual(a, b) {
  const x = viewOf(a, "buf1");
  const y = viewOf(b, "buf2");
  // workerd's error (Node throws a RangeError without the period).
  if (x.byteLength !== y.byteLength) {
    throw nodeError(TypeError, "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", "Input buffers must have the same byte length.");
  }
  return native.nodeTimingSafeEqual(x, y);
}

function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  const pass = toBuffer(password, "utf8");
  if (pass === null) throw invalidArgType("password", "of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView", password);
  const s = toBuffer(salt, "utf8");
  if (s === null) throw invalidArgType("salt", "of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView", salt);
  if (typeof digest !== "string") throw invalidArgType("digest", "of type string", digest);
  checkSize(iterations, "iterations", 2 ** 31 - 1);
  if (iterations < 1) {
    throw nodeError(RangeError, "ERR_OUT_OF_RANGE",
      `The value of "iterations" is out of range. It must be >= 1 && <= 2147483647. Received ${iterations}`);
  }
  checkSize(keylen, "keylen", 2 ** 31 - 1);
  return getBuffer().from(withDigestCode(() => native.nodePbkdf2(pass, s, iterations, keylen, digest)));
}

function pbkdf2(password, salt, iterations, keylen, digest, callback) {
  checkCallback(callback);
  callBack(callback, () => pbkdf2Sync(password, salt, iterations, keylen, digest));
}

function bytesArg(value, name) {
  const bytes = toBuffer(value, "utf8");
  if (bytes === null) {
    throw invalidArgType(name, "of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView", value);
  }
  return bytes;
}

// Node returns an ArrayBuffer here, not a Buffer.
function hkdfSync(digest, ikm, salt, info, keylen) {
  if (typeof digest !== "string") throw invalidArgType("digest", "of type string", digest);
  checkSize(keylen, "length", 2 ** 31 - 1);
  return withDigestCode(() =>
    native.nodeHkdf(digest, bytesArg(ikm, "ikm"), bytesArg(salt, "salt"), bytesArg(info, "info"), keylen));
}

function hkdf(digest, ikm, salt, info, keylen, callback) {
  checkCallback(callback);
  callBack(callback, () => hkdfSync(digest, ikm, salt, info, keylen));
}

function scryptSync(password, salt, keylen, options = {}) {
  checkSize(keylen, "keylen", 2 ** 31 - 1);
  const pick = (a, b, fallback) => options[a] ?? options[b] ?? fallback;
  const cost = pick("N", "cost", 16384);
  const blockSize = pick("r", "blockSize", 8);
  const parallel = pick("p", "parallelization", 1);
  const maxmem = options.maxmem ?? 32 * 1024 * 1024;
  const out = native.nodeScrypt(bytesArg(password, "password"), bytesArg(salt, "salt"),
    cost, blockSize, parallel, maxmem, keylen);
  return getBuffer().from(out);
}

function scrypt(password, salt, keylen, options, callback) {
  if (typeof options === "function") [options, callback] = [{}, options];
  checkCallback(callback);
  callBack(callback, () => scryptSync(password, salt, keylen, options));
}

let cached = null;

export function cryptoModule() {
  if (cached !== null) return cached;
  const webcrypto = globalThis.crypto;
  cached = withStandIns("crypto", {
    Hash,
    Hmac,
    createHash,
    createHmac,
    getHashes: () => kHashes.slice(),
    hkdf,
    hkdfSync,
    scrypt,
    scryptSync,
    pbkdf2,
    pbkdf2Sync,
    randomBytes,
    pseudoRandomBytes: randomBytes,
    prng: randomBytes,
    rng: randomBytes,
    randomFill,
    randomFillSync,
    randomInt,
    randomUUID,
    timingSafeEqual,
    getRandomValues: (array) => webcrypto.getRandomValues(array),
    webcrypto,
    subtle: webcrypto.subtle,
  }, kNames);
  return cached;
}
