// structuredClone() over V8's ValueSerializer (native.cloneValue). A clone failure is the
// DataCloneError DOMException the HTML spec names; an exception thrown by a getter on the way
// passes through as it is. `transfer` moves the listed ArrayBuffers into the clone and detaches
// them. Blobs and Files are platform objects that V8 would copy as `{}`: they throw
// DataCloneError instead, as they do in workerd.
import { native } from "./native.js";
import { DOMException } from "./dom_exception.js";
import { blobCount, isBlob } from "./blob.js";
import { requireArgs } from "./util.js";

const dataCloneError = (message) => new DOMException(message, "DataCloneError");

const { getOwnPropertyDescriptor, keys } = Object;
const isArrayBufferView = ArrayBuffer.isView;
const mapEntries = Function.prototype.call.bind(Map.prototype.entries);
const setValues = Function.prototype.call.bind(Set.prototype.values);

// Throws DataCloneError if a Blob is reachable from `value` through what V8's serializer would
// visit: own enumerable data properties, Map and Set entries. Getters are not called here (V8
// calls them once, during serialization).
function rejectBlobs(value) {
  const seen = new Set();
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    if (isBlob(v)) throw dataCloneError(`${v[Symbol.toStringTag] ?? "Blob"} object could not be cloned.`);
    if (isArrayBufferView(v) || v instanceof ArrayBuffer) continue;
    if (v instanceof Map) {
      for (const [k, x] of mapEntries(v)) stack.push(k, x);
    } else if (v instanceof Set) {
      for (const x of setValues(v)) stack.push(x);
    }
    for (const key of keys(v)) {
      const desc = getOwnPropertyDescriptor(v, key);
      if (desc !== undefined && "value" in desc) stack.push(desc.value);
    }
  }
}

function transferList(options) {
  if (options === undefined || options === null) return [];
  if (typeof options !== "object") {
    throw new TypeError("structuredClone: options must be an object");
  }
  const transfer = options.transfer;
  if (transfer === undefined) return [];
  if (typeof transfer !== "object" || transfer === null || !(Symbol.iterator in transfer)) {
    throw new TypeError("structuredClone: options.transfer must be a sequence");
  }
  const list = [...transfer];
  const seen = new Set();
  for (const item of list) {
    if (!(item instanceof ArrayBuffer)) {
      throw dataCloneError("Value not transferable");
    }
    if (seen.has(item)) throw dataCloneError("ArrayBuffer listed twice in transfer");
    if (native.arrayBufferDetached(item)) throw dataCloneError("An ArrayBuffer is detached and could not be cloned.");
    seen.add(item);
  }
  return list;
}

export function structuredClone(value, options = undefined) {
  requireArgs(arguments.length, 1, "structuredClone");
  const transfer = transferList(options);
  if (blobCount() > 0) rejectBlobs(value);
  return native.cloneValue(value, transfer, dataCloneError);
}
