// node:util: inspect and format are the runtime's own (the ones console uses); promisify,
// callbackify, inherits, deprecate, debuglog, types and the legacy is* checks come from the npm
// `util` package; isDeepStrictEqual from the npm `assert` package's comparisons.
import { inspect as runtimeInspect } from "../web/inspect.js";
import { format } from "../web/console.js";
import { inspectSymbol, toUSVString } from "../web/util.js";
import { withStandIns } from "./common.js";

const kNames = [
  "MIMEParams", "MIMEType", "TextDecoder", "TextEncoder", "_extend", "aborted", "callbackify",
  "debug", "debuglog", "deprecate", "format", "formatWithOptions", "getSystemErrorMap",
  "getSystemErrorName", "inherits", "inspect", "isArray", "isBoolean", "isBuffer", "isDate",
  "isDeepStrictEqual", "isError", "isFunction", "isNull", "isNullOrUndefined", "isNumber",
  "isObject", "isPrimitive", "isRegExp", "isString", "isSymbol", "isUndefined", "log",
  "parseArgs", "promisify", "stripVTControlCharacters", "styleText", "toUSVString",
  "transferableAbortController", "transferableAbortSignal", "types",
];
const kTypeNames = [
  "isExternal", "isDate", "isArgumentsObject", "isBigIntObject", "isBooleanObject",
  "isNumberObject", "isStringObject", "isSymbolObject", "isNativeError", "isRegExp",
  "isAsyncFunction", "isGeneratorFunction", "isGeneratorObject", "isPromise", "isMap", "isSet",
  "isMapIterator", "isSetIterator", "isWeakMap", "isWeakSet", "isArrayBuffer", "isDataView",
  "isSharedArrayBuffer", "isProxy", "isModuleNamespaceObject", "isAnyArrayBuffer",
  "isBoxedPrimitive", "isArrayBufferView", "isTypedArray", "isUint8Array", "isUint8ClampedArray",
  "isUint16Array", "isUint32Array", "isInt8Array", "isInt16Array", "isInt32Array",
  "isFloat32Array", "isFloat64Array", "isBigInt64Array", "isBigUint64Array", "isKeyObject",
  "isCryptoKey",
];

// Node's inspect(value, options) and its legacy (value, showHidden, depth) form.
function inspect(value, options, depth) {
  if (options === null || typeof options !== "object") options = depth === undefined ? {} : { depth };
  return runtimeInspect(value, options);
}
inspect.custom = inspectSymbol;
inspect.defaultOptions = { depth: 2 };

let cached = null;
let cachedTypes = null;

export function utilTypesModule() {
  if (cachedTypes === null) {
    const npmTypes = require("util/support/types.js");
    const types = { ...npmTypes };
    types.isCryptoKey = (value) => value instanceof globalThis.CryptoKey;
    types.isKeyObject = () => false;
    cachedTypes = withStandIns("util.types", types, kTypeNames);
  }
  return cachedTypes;
}

export function utilModule() {
  if (cached !== null) return cached;
  const npm = require("util/util.js");
  const { isDeepStrictEqual } = require("assert/build/internal/util/comparisons.js");
  const exports = {
    inspect,
    format,
    formatWithOptions: (options, ...args) => format(...args),
    promisify: npm.promisify,
    callbackify: npm.callbackify,
    inherits: npm.inherits,
    deprecate: npm.deprecate,
    debuglog: npm.debuglog,
    debug: npm.debuglog,
    _extend: npm._extend,
    isDeepStrictEqual,
    toUSVString,
    types: utilTypesModule(),
    TextEncoder,
    TextDecoder,
    stripVTControlCharacters: (s) =>
      // eslint-disable-next-line no-control-regex
      String(s).replace(/[\u001B\u009B][[\]()#;?]*(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007|(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~])/g, ""),
  };
  for (const name of [
    "isArray", "isBoolean", "isBuffer", "isDate", "isError", "isFunction", "isNull",
    "isNullOrUndefined", "isNumber", "isObject", "isPrimitive", "isRegExp", "isString",
    "isSymbol", "isUndefined",
  ]) {
    exports[name] = npm[name];
  }
  cached = withStandIns("util", exports, kNames);
  return cached;
}
