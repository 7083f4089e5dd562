// node:path: the npm `path-browserify` package (Node's POSIX path module, ported), with the
// working directory "/". path.win32 is not there: its functions throw.
import { withStandIns } from "./common.js";

const kNames = [
  "basename", "delimiter", "dirname", "extname", "format", "isAbsolute", "join", "matchesGlob",
  "normalize", "parse", "posix", "relative", "resolve", "sep", "toNamespacedPath", "win32",
];

let cached = null;

export function pathModule() {
  if (cached !== null) return cached;
  const posix = { ...require("path-browserify") };
  posix.toNamespacedPath = (p) => p;
  posix.posix = posix;
  posix.win32 = withStandIns("path.win32", {}, kNames);
  cached = withStandIns("path", posix, kNames);
  return cached;
}
