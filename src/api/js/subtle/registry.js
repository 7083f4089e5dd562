// The supported algorithms and WebCrypto's "normalize an algorithm": look the name up
// case-insensitively among the algorithms that support the operation, then convert the rest of
// the dictionary to that operation's parameter type.
import { kAesAlgorithms } from "./aes.js";
import { kEcAlgorithms } from "./ec.js";
import { notSupported } from "./errors.js";
import { algorithmName, asciiUpper, kHashNames } from "./hash.js";
import { HMAC } from "./hmac.js";
import { kKdfAlgorithms } from "./kdf.js";
import { kRsaAlgorithms } from "./rsa.js";

// MD5 is digest-only, a workerd extension that PartyKit code meets (e.g. for ETags).
const kDigests = [...kHashNames, "MD5"].map((name) => ({
  name,
  params: { digest: () => ({}) },
  digest: (native, alg, data) => native.cryptoDigest(name, data),
}));

const kAlgorithms = new Map(
  [...kDigests, HMAC, ...kAesAlgorithms, ...kRsaAlgorithms, ...kEcAlgorithms, ...kKdfAlgorithms]
    .map((impl) => [asciiUpper(impl.name), impl]),
);

export function implOf(name) {
  return kAlgorithms.get(asciiUpper(name));
}

export function normalizeAlgorithm(op, algorithm) {
  const name = algorithmName(algorithm);
  const impl = implOf(name);
  if (!impl) throw notSupported(`Unrecognized algorithm name: ${name}`);
  const parse = impl.params[op];
  if (!parse) throw notSupported(`${impl.name} does not support ${op}`);
  const dict = typeof algorithm === "string" ? {} : algorithm;
  return { name: impl.name, ...parse(dict) };
}
