// What the node/ modules share: Node-style errors with a `code`, stand-ins that throw for what is
// not implemented, and byte conversions over the npm `buffer` package's Buffer.

// A stand-in for `module.name`: calling it (or `new`) throws an Error that names it.
export function notImplemented(module, name) {
  const fail = function () {
    throw new Error(`partyd: ${module}.${name} (node:${module}) is not implemented`);
  };
  Object.defineProperty(fail, "name", { value: name });
  return fail;
}

// Adds a throwing stand-in to `exports` for each of `names` it does not have, so that every name
// Node's module has is either real or throws when used, never silently undefined.
export function withStandIns(module, exports, names) {
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(exports, name)) {
      Object.defineProperty(exports, name, {
        value: notImplemented(module, name),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  return exports;
}

export function nodeError(Type, code, message) {
  const e = new Type(message);
  e.code = code;
  return e;
}

export function describeReceived(value) {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === "function") return ` Received function ${value.name}`;
  if (typeof value === "object") {
    const name = value.constructor && value.constructor.name;
    return name ? ` Received an instance of ${name}` : " Received an object";
  }
  return ` Received type ${typeof value} (${String(value).slice(0, 25)})`;
}

export function invalidArgType(name, expected, value) {
  return nodeError(
    TypeError,
    "ERR_INVALID_ARG_TYPE",
    `The "${name}" argument must be ${expected}.${describeReceived(value)}`,
  );
}
