// Response (Fetch Standard subset): status, statusText, headers, body, the static constructors
// error/redirect/json, and Cloudflare's `webSocket` member for 101 upgrade responses.
// responseParts() hands a Response to the C++ HTTP layer; makeResponse() builds one for fetch().
import { cloneBody, consumeBody, extractBody, installBodyMixin, isBodyUsed, newBody } from "./body.js";
import { Headers, copyHeaders, headerList, headersFromPairs, setHeadersGuard } from "./headers.js";
import { isReadableStream } from "./readable_stream.js";
import { parseAPIURL } from "./url.js";
import { serializeURL } from "./url_parser.js";
import { defineToStringTag, inspectSymbol, makeEnumerable } from "./util.js";

const kInternal = Symbol("internal");
const kNullBodyStatuses = new Set([101, 103, 204, 205, 304]);
const kRedirectStatuses = new Set([301, 302, 303, 307, 308]);
const kReasonPhrase = /^[\t\x20-\x7e\x80-\xff]*$/;

let internals;

export class Response {
  #status = 200;
  #statusText = "";
  #headers = null;
  #body = null;
  #type = "default";
  #url = "";
  #redirected = false;
  #webSocket = null;

  constructor(body = null, init = {}) {
    if (body === kInternal) {
      this.#status = init.status;
      this.#statusText = init.statusText;
      this.#headers = init.headers;
      this.#body = init.body;
      this.#type = init.type;
      this.#url = init.url ?? "";
      this.#redirected = init.redirected ?? false;
      this.#webSocket = init.webSocket ?? null;
      return;
    }
    init ??= {};
    const webSocket = init.webSocket ?? null;
    const status = init.status === undefined ? 200 : Number(init.status) & 0xffff;
    // 101 is allowed only to hand over a WebSocket, as in Cloudflare Workers.
    if ((status < 200 || status > 599) && !(status === 101 && webSocket !== null)) {
      throw new RangeError(`Response: status ${init.status} is outside the range [200, 599]`);
    }
    const statusText = init.statusText === undefined ? "" : String(init.statusText);
    if (statusText !== "" && !kReasonPhrase.test(statusText)) {
      throw new TypeError("Response: invalid statusText");
    }
    this.#status = status;
    this.#statusText = statusText;
    this.#webSocket = webSocket;
    this.#headers = new Headers(init.headers);
    if (body !== null && body !== undefined) {
      if (kNullBodyStatuses.has(status)) {
        throw new TypeError(`Response with null body status ${status} cannot have body`);
      }
      const extracted = extractBody(body);
      this.#body = newBody(extracted);
      // The body's own content type (a valid, lower-case pair), unless init gave one.
      if (extracted.contentType !== null) {
        const list = headerList(this.#headers);
        let given = false;
        for (let i = 0; i < list.length; i++) {
          if (list[i][0] === "content-type") {
            given = true;
            break;
          }
        }
        if (!given) list.push(["content-type", extracted.contentType]);
      }
    }
  }

  static error() {
    const headers = new Headers();
    setHeadersGuard(headers, "immutable");
    return new Response(kInternal, { status: 0, statusText: "", headers, body: null, type: "error" });
  }

  static redirect(url, status = 302) {
    const parsed = parseAPIURL(url);
    if (parsed === null) throw new TypeError(`Response.redirect: invalid URL "${String(url)}"`);
    status = Number(status);
    if (!kRedirectStatuses.has(status)) {
      throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
    }
    const headers = new Headers({ location: serializeURL(parsed) });
    setHeadersGuard(headers, "immutable");
    return new Response(kInternal, { status, statusText: "", headers, body: null, type: "default" });
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the data is not JSON-serializable");
    const response = new Response(null, init);
    if (kNullBodyStatuses.has(response.#status)) {
      throw new TypeError(`Response with null body status ${response.#status} cannot have body`);
    }
    response.#body = newBody({ bytes: null, text, stream: null });
    if (!response.#headers.has("content-type")) {
      response.#headers.append("content-type", "application/json");
    }
    return response;
  }

  get type() {
    return this.#type;
  }

  get url() {
    return this.#url;
  }

  get redirected() {
    return this.#redirected;
  }

  get status() {
    return this.#status;
  }

  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText() {
    return this.#statusText;
  }

  get headers() {
    return this.#headers;
  }

  get webSocket() {
    return this.#webSocket;
  }

  clone() {
    if (isBodyUsed(this.#body)) throw new TypeError("Response.clone: the body has already been used");
    return new Response(kInternal, {
      status: this.#status,
      statusText: this.#statusText,
      headers: copyHeaders(this.#headers),
      body: cloneBody(this.#body),
      type: this.#type,
      url: this.#url,
      redirected: this.#redirected,
      webSocket: this.#webSocket,
    });
  }

  [inspectSymbol](depth, options, inspect) {
    const fields = {
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
      bodyUsed: this.bodyUsed,
    };
    return "Response " + inspect(fields, options);
  }

  static {
    internals = {
      isResponse: (value) => value !== null && typeof value === "object" && #body in value,
      body(response) {
        if (!(#body in response)) throw new TypeError("Illegal invocation");
        return response.#body;
      },
      headers: (response) => response.#headers,
    };
  }
}
installBodyMixin(Response, internals.body, internals.headers);
defineToStringTag(Response);
makeEnumerable(Response, [
  "type", "url", "redirected", "status", "ok", "statusText", "headers", "webSocket", "clone",
]);

// Builds a Response from primitives (for fetch() glue): no status checks; `headers` is an array
// of [name, value] pairs, `body` a Uint8Array, a ReadableStream or null.
export function makeResponse(status, statusText, headers, body = null, options = {}) {
  let record = null;
  if (body !== null && body !== undefined) {
    record = isReadableStream(body)
      ? newBody({ bytes: null, stream: body })
      : newBody({ bytes: body, stream: null });
  }
  return new Response(kInternal, {
    status: Number(status),
    statusText: String(statusText ?? ""),
    headers: headersFromPairs(headers ?? [], options.immutableHeaders ? "immutable" : "none"),
    body: record,
    type: options.type ?? "default",
    url: options.url ?? "",
    redirected: Boolean(options.redirected),
    webSocket: options.webSocket ?? null,
  });
}

export function isResponse(value) {
  return internals.isResponse(value);
}

// [name, value, name, value, ...]: what the native side reads fastest (two reads per header, no
// array per pair); headerPairs() in src/api/natives.h takes this or a list of pairs.
function flatHeaders(list) {
  const flat = new Array(list.length * 2);
  for (let i = 0; i < list.length; i++) {
    flat[2 * i] = list[i][0];
    flat[2 * i + 1] = list[i][1];
  }
  return flat;
}

// One object literal, so that every answer has the same shape (a spread of a head object and a
// body made a new hidden class per response, in V8's slow path).
function parts(response, body) {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: flatHeaders(headerList(internals.headers(response))),
    webSocket: response.webSocket,
    body,
  };
}

function checkResponse(response) {
  if (!isResponse(response)) throw new TypeError("Expected a Response object");
}

// Everything the HTTP layer needs to send `response`; the body is read to the end.
export async function responseParts(response) {
  checkResponse(response);
  const body = internals.body(response);
  const head = parts(response, null);
  if (body !== null) head.body = await consumeBody(body);
  return head;
}

// The same, synchronously, when the body's bytes are already known; null for a stream body,
// which the caller should read from `response.body` (or use responseParts()).
export function responsePartsSync(response) {
  checkResponse(response);
  const body = internals.body(response);
  if (body === null) return parts(response, null);
  if (body.stream !== null || isBodyUsed(body)) return null;
  body.used = true;
  return parts(response, body.bytes ?? body.text);
}
