// The Fetch Standard's body: extracting a body from a BodyInit (string, bytes, Blob, FormData,
// URLSearchParams, ReadableStream), and the body mixin (text/json/arrayBuffer/blob/formData/
// bytes, body, bodyUsed) shared by Request and Response.
//
// A body record is { bytes, text, stream, used }: bytes are known up front for every init except
// a ReadableStream, and the stream is made from them only when someone asks for `.body`. A string
// init keeps its text and is encoded only when its bytes are read (bodyBytes): a handler's
// `new Response("ok")` goes to the native side as the string, with no Uint8Array made (W6).
import { Blob, blobBytes } from "./blob.js";
import { utf8DecodeLossy, utf8DecodeWithoutBOM, utf8Encode } from "./encoding.js";
import { FormData } from "./form_data.js";
import { parseMultipart, serializeMultipart } from "./multipart.js";
import {
  byteStreamFromBytes,
  isDisturbed,
  isLocked,
  isReadableStream,
  readAllBytes,
  teeStream,
} from "./readable_stream.js";
import { URLSearchParams, parseFormUrlencoded } from "./url_search_params.js";
import { bufferSourceBytes, toUSVString } from "./util.js";

// Returns { bytes, stream, contentType } for a non-null BodyInit.
export function extractBody(init) {
  if (typeof init === "string") {
    return { bytes: null, text: toUSVString(init), stream: null, contentType: "text/plain;charset=UTF-8" };
  }
  if (init instanceof URLSearchParams) {
    return {
      bytes: null,
      text: init.toString(),
      stream: null,
      contentType: "application/x-www-form-urlencoded;charset=UTF-8",
    };
  }
  if (init instanceof Blob) {
    return { bytes: blobBytes(init), stream: null, contentType: init.type === "" ? null : init.type };
  }
  if (init instanceof FormData) {
    const { bytes, contentType } = serializeMultipart(init);
    return { bytes, stream: null, contentType };
  }
  if (isReadableStream(init)) {
    if (isDisturbed(init) || isLocked(init)) {
      throw new TypeError("The body stream has already been read or is locked");
    }
    return { bytes: null, stream: init, contentType: null };
  }
  const view = bufferSourceBytes(init);
  if (view !== null) return { bytes: view.slice(), stream: null, contentType: null };
  return extractBody(String(init));
}

export function newBody({ bytes, text = null, stream }) {
  return { bytes, text, stream, used: false };
}

// The bytes of a body record that has no stream (encoding its text on first use).
export function bodyBytes(body) {
  if (body.bytes === null && body.text !== null) body.bytes = utf8Encode(body.text);
  return body.bytes;
}

export function bodyStream(body) {
  if (body === null) return null;
  if (body.stream === null) {
    body.stream = byteStreamFromBytes(bodyBytes(body).slice()); // the bytes may be shared with a Blob
    if (body.used) body.stream.cancel().catch(() => {});
  }
  return body.stream;
}

export function isBodyUsed(body) {
  return body !== null && (body.used || (body.stream !== null && isDisturbed(body.stream)));
}

export function isBodyLocked(body) {
  return body !== null && body.stream !== null && isLocked(body.stream);
}

// Reads the whole body; the result may be shared with clones, so callers must not mutate it.
export function consumeBody(body) {
  if (body === null) return Promise.resolve(new Uint8Array(0));
  if (isBodyUsed(body)) return Promise.reject(new TypeError("Body has already been used"));
  if (isBodyLocked(body)) return Promise.reject(new TypeError("The body stream is locked"));
  body.used = true;
  if (body.stream === null) return Promise.resolve(bodyBytes(body));
  return readAllBytes(body.stream);
}

export function cloneBody(body) {
  if (body === null) return null;
  if (isBodyUsed(body) || isBodyLocked(body)) {
    throw new TypeError("Cannot clone a body that has already been used");
  }
  if (body.stream === null) return { bytes: body.bytes, text: body.text, stream: null, used: false };
  const [mine, theirs] = teeStream(body.stream);
  body.stream = mine;
  return { bytes: null, text: null, stream: theirs, used: false };
}

// The essence ("type/subtype", lowercased) and parameters of a Content-Type value.
export function parseMimeType(value) {
  if (value === null) return null;
  const [essence, ...params] = value.split(";");
  const parameters = new Map();
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0) continue;
    const key = param.slice(0, eq).trim().toLowerCase();
    let val = param.slice(eq + 1).trim();
    if (val.startsWith('"')) val = val.slice(1, val.endsWith('"') ? -1 : undefined).replace(/\\(.)/g, "$1");
    if (!parameters.has(key)) parameters.set(key, val);
  }
  return { essence: essence.trim().toLowerCase(), parameters };
}

function toFormData(bytes, contentType) {
  const mime = parseMimeType(contentType);
  if (mime?.essence === "multipart/form-data") {
    const boundary = mime.parameters.get("boundary");
    if (!boundary) throw new TypeError("multipart/form-data body without a boundary");
    return parseMultipart(bytes, boundary);
  }
  if (mime?.essence === "application/x-www-form-urlencoded") {
    // The urlencoded parser decodes its input without stripping a BOM: a leading U+FEFF is part
    // of the first name.
    const formData = new FormData();
    for (const [name, value] of parseFormUrlencoded(utf8DecodeWithoutBOM(bytes))) {
      formData.append(name, value);
    }
    return formData;
  }
  throw new TypeError(`Cannot parse a body of type "${contentType}" as FormData`);
}

// Installs the body mixin on `cls.prototype`. `getBody(self)` brand-checks and returns the body
// record (or null); `getHeaders(self)` returns the Headers.
export function installBodyMixin(cls, getBody, getHeaders) {
  const contentType = (self) => getHeaders(self).get("content-type");
  const methods = {
    arrayBuffer() {
      return consumeBody(getBody(this)).then((bytes) => bytes.slice().buffer);
    },
    bytes() {
      return consumeBody(getBody(this)).then((bytes) => bytes.slice());
    },
    blob() {
      const type = contentType(this) ?? "";
      return consumeBody(getBody(this)).then((bytes) => new Blob([bytes], { type }));
    },
    formData() {
      const type = contentType(this);
      return consumeBody(getBody(this)).then((bytes) => toFormData(bytes, type));
    },
    json() {
      return consumeBody(getBody(this)).then((bytes) => JSON.parse(utf8DecodeLossy(bytes)));
    },
    text() {
      return consumeBody(getBody(this)).then(utf8DecodeLossy);
    },
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(cls.prototype, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  Object.defineProperty(cls.prototype, "body", {
    get() {
      return bodyStream(getBody(this));
    },
    enumerable: true,
    configurable: true,
  });
  Object.defineProperty(cls.prototype, "bodyUsed", {
    get() {
      return isBodyUsed(getBody(this));
    },
    enumerable: true,
    configurable: true,
  });
}

// For C++ glue: the bytes and default Content-Type of a BodyInit. A ReadableStream has no
// bytes up front; it comes back as `stream` instead.
export function bodyToBytes(init) {
  if (init === null || init === undefined) return { bytes: null, contentType: null, stream: null };
  const { bytes, text, stream, contentType } = extractBody(init);
  return { bytes: bytes ?? (text === undefined ? null : utf8Encode(text)), contentType, stream };
}
