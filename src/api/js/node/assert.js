// node:assert and node:assert/strict: the npm `assert` package (Node's assert, ported).
import { withStandIns } from "./common.js";

const kNames = [
  "AssertionError", "CallTracker", "deepEqual", "deepStrictEqual", "doesNotMatch",
  "doesNotReject", "doesNotThrow", "equal", "fail", "ifError", "match", "notDeepEqual",
  "notDeepStrictEqual", "notEqual", "notStrictEqual", "ok", "rejects", "strict", "strictEqual",
  "throws",
];

let cached = null;

export function assertModule() {
  if (cached !== null) return cached;
  const assert = require("assert");
  withStandIns("assert", assert, kNames);
  withStandIns("assert", assert.strict, kNames);
  cached = assert;
  return cached;
}
