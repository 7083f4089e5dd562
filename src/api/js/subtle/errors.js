// Errors of crypto.subtle. The natives throw plain Errors named like DOMExceptions (they cannot
// reach the DOMException class); fromNative turns those into real DOMExceptions.
import { DOMException } from "../web/dom_exception.js";

const kDomNames = new Set([
  "NotSupportedError", "DataError", "OperationError", "InvalidAccessError", "SyntaxError",
  "QuotaExceededError",
]);

export function domError(name, message) {
  return new DOMException(message, name);
}

export function notSupported(message) {
  return new DOMException(message, "NotSupportedError");
}

export function fromNative(error) {
  if (error instanceof DOMException || !(error instanceof Error)) return error;
  if (!kDomNames.has(error.name)) return error;
  return new DOMException(error.message, error.name);
}
