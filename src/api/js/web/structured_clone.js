// structuredClone() over V8's ValueSerializer (native.serialize/deserialize). Failures surface as
// the DataCloneError DOMException the HTML spec names.
import { native } from "./native.js";
import { DOMException } from "./dom_exception.js";
import { requireArgs } from "./util.js";

// TODO(compat): the `transfer` option is ignored: transferred buffers are copied, not detached,
// as V8 10.2 offers no way to detach an ArrayBuffer from JS.
export function structuredClone(value) {
  requireArgs(arguments.length, 1, "structuredClone");
  let serialized;
  try {
    serialized = native.serialize(value);
  } catch (error) {
    if (error instanceof DOMException) throw error;
    throw new DOMException(error?.message ?? String(error), "DataCloneError");
  }
  return native.deserialize(serialized);
}
