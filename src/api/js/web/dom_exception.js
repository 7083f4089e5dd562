// DOMException (WebIDL): name, message and the legacy numeric code, with Error.prototype as its
// prototype's parent so `instanceof Error` holds and stacks are captured like V8 errors.
import { defineToStringTag, makeEnumerable } from "./util.js";

// Legacy codes, in the order of the WebIDL table; names not listed have code 0.
const kLegacyCodes = [
  ["INDEX_SIZE_ERR", "IndexSizeError"],
  ["DOMSTRING_SIZE_ERR", "DOMStringSizeError"],
  ["HIERARCHY_REQUEST_ERR", "HierarchyRequestError"],
  ["WRONG_DOCUMENT_ERR", "WrongDocumentError"],
  ["INVALID_CHARACTER_ERR", "InvalidCharacterError"],
  ["NO_DATA_ALLOWED_ERR", "NoDataAllowedError"],
  ["NO_MODIFICATION_ALLOWED_ERR", "NoModificationAllowedError"],
  ["NOT_FOUND_ERR", "NotFoundError"],
  ["NOT_SUPPORTED_ERR", "NotSupportedError"],
  ["INUSE_ATTRIBUTE_ERR", "InUseAttributeError"],
  ["INVALID_STATE_ERR", "InvalidStateError"],
  ["SYNTAX_ERR", "SyntaxError"],
  ["INVALID_MODIFICATION_ERR", "InvalidModificationError"],
  ["NAMESPACE_ERR", "NamespaceError"],
  ["INVALID_ACCESS_ERR", "InvalidAccessError"],
  ["VALIDATION_ERR", "ValidationError"],
  ["TYPE_MISMATCH_ERR", "TypeMismatchError"],
  ["SECURITY_ERR", "SecurityError"],
  ["NETWORK_ERR", "NetworkError"],
  ["ABORT_ERR", "AbortError"],
  ["URL_MISMATCH_ERR", "URLMismatchError"],
  ["QUOTA_EXCEEDED_ERR", "QuotaExceededError"],
  ["TIMEOUT_ERR", "TimeoutError"],
  ["INVALID_NODE_TYPE_ERR", "InvalidNodeTypeError"],
  ["DATA_CLONE_ERR", "DataCloneError"],
];
const kCodeByName = new Map(kLegacyCodes.map(([, name], i) => [name, i + 1]));

export class DOMException {
  #name;
  #message;

  constructor(message = "", options = "Error") {
    this.#message = String(message);
    if (options !== null && typeof options === "object") {
      this.#name = "name" in options ? String(options.name) : "Error";
      if ("cause" in options) {
        Object.defineProperty(this, "cause", {
          value: options.cause,
          writable: true,
          configurable: true,
        });
      }
    } else {
      this.#name = String(options);
    }
    if (typeof Error.captureStackTrace === "function") Error.captureStackTrace(this, DOMException);
  }

  get name() {
    return this.#name;
  }

  get message() {
    return this.#message;
  }

  get code() {
    return kCodeByName.get(this.#name) ?? 0;
  }
}
Object.setPrototypeOf(DOMException.prototype, Error.prototype);
defineToStringTag(DOMException, "DOMException");
makeEnumerable(DOMException, ["name", "message", "code"]);
kLegacyCodes.forEach(([constant], i) => {
  const desc = { value: i + 1, enumerable: true };
  Object.defineProperty(DOMException, constant, desc);
  Object.defineProperty(DOMException.prototype, constant, desc);
});
