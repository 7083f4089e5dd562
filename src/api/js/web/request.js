// Request (Fetch Standard subset for a server runtime): URL, method, headers, body, redirect
// mode, signal, and Cloudflare's `cf` object. makeRequest() builds one from the primitives the
// C++ HTTP layer has, skipping the checks meant for user-constructed requests.
import { AbortSignal, createAbortSignal, isAbortSignal } from "./abort.js";
import { cloneBody, extractBody, installBodyMixin, isBodyLocked, isBodyUsed, newBody } from "./body.js";
import { Headers, copyHeaders, headersFromPairs } from "./headers.js";
import { isToken } from "./headers.js";
import { isReadableStream } from "./readable_stream.js";
import { parseAPIURL } from "./url.js";
import { includesCredentials, serializeURL } from "./url_parser.js";
import { defineToStringTag, inspectSymbol, makeEnumerable, requireArgs } from "./util.js";

const kInternal = Symbol("internal");
const kNormalizedMethods = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const kForbiddenMethods = new Set(["CONNECT", "TRACE", "TRACK"]);
const kRedirectModes = new Set(["follow", "error", "manual"]);

let internals;

function normalizeMethod(value) {
  const method = String(value);
  if (!isToken(method)) throw new TypeError(`Request: invalid method "${method}"`);
  const upper = method.toUpperCase();
  if (kForbiddenMethods.has(upper)) throw new TypeError(`Request: method "${method}" is forbidden`);
  return kNormalizedMethods.has(upper) ? upper : method;
}

export class Request {
  #method = "GET";
  #url = "";
  #headers = null;
  // An incoming request's header pairs from the host, made into #headers on first use: a
  // handler that never reads its request's headers does not pay for them (W6).
  #headerPairs = null;
  #body = null;
  #redirect = "follow";
  #signalSource = null; // the signal this request's signal follows
  #signal = null;
  #cf = {};

  constructor(input, init = {}) {
    requireArgs(arguments.length, 1, "Request constructor");
    if (input === kInternal) {
      this.#method = init.method;
      this.#url = init.url;
      this.#headers = init.headers ?? null;
      this.#headerPairs = init.headerPairs ?? null;
      this.#body = init.body;
      this.#redirect = init.redirect ?? "follow";
      this.#signalSource = init.signal ?? null;
      this.#cf = init.cf ?? {};
      return;
    }
    init ??= {};
    const source = input instanceof Request ? input : null;
    if (source !== null) {
      this.#url = source.#url;
      this.#method = source.#method;
      this.#redirect = source.#redirect;
      this.#signalSource = source.signal;
      this.#cf = source.#cf;
    } else {
      const parsed = parseAPIURL(input);
      if (parsed === null) throw new TypeError(`Request: invalid URL "${String(input)}"`);
      if (includesCredentials(parsed)) {
        throw new TypeError("Request: the URL must not include credentials");
      }
      this.#url = serializeURL(parsed);
    }
    if (init.method !== undefined) this.#method = normalizeMethod(init.method);
    if (init.redirect !== undefined) {
      const redirect = String(init.redirect);
      if (!kRedirectModes.has(redirect)) throw new TypeError(`Request: invalid redirect "${redirect}"`);
      this.#redirect = redirect;
    }
    if (init.signal !== undefined) {
      if (init.signal !== null && !isAbortSignal(init.signal)) {
        throw new TypeError("Request: signal must be an AbortSignal");
      }
      this.#signalSource = init.signal;
    }
    if (init.cf !== undefined) this.#cf = init.cf;

    this.#headers = new Headers(init.headers !== undefined ? init.headers : source?.#getHeaders());

    const inputBody = source === null ? null : source.#body;
    const hasInitBody = init.body !== undefined && init.body !== null;
    if ((hasInitBody || (init.body === undefined && inputBody !== null)) &&
        (this.#method === "GET" || this.#method === "HEAD")) {
      throw new TypeError("Request with GET/HEAD method cannot have body.");
    }
    if (hasInitBody) {
      const extracted = extractBody(init.body);
      this.#body = newBody(extracted);
      if (extracted.contentType !== null && !this.#headers.has("content-type")) {
        this.#headers.append("content-type", extracted.contentType);
      }
    } else if (init.body === undefined && inputBody !== null) {
      if (isBodyUsed(inputBody) || isBodyLocked(inputBody)) {
        throw new TypeError("Request: the input request's body has already been used");
      }
      // The body moves to the new request; the input is left disturbed.
      this.#body = inputBody;
      source.#body = { bytes: new Uint8Array(0), text: null, stream: null, used: true };
    }
  }

  get method() {
    return this.#method;
  }

  get url() {
    return this.#url;
  }

  get headers() {
    return this.#getHeaders();
  }

  get redirect() {
    return this.#redirect;
  }

  get signal() {
    if (this.#signal === null) {
      this.#signal =
        this.#signalSource === null ? createAbortSignal() : AbortSignal.any([this.#signalSource]);
    }
    return this.#signal;
  }

  get cf() {
    return this.#cf;
  }

  #getHeaders() {
    if (this.#headers === null && this.#headerPairs !== null) {
      this.#headers = headersFromPairs(this.#headerPairs);
      this.#headerPairs = null;
    }
    return this.#headers;
  }

  clone() {
    if (isBodyUsed(this.#body)) throw new TypeError("Request.clone: the body has already been used");
    return new Request(kInternal, {
      method: this.#method,
      url: this.#url,
      headers: copyHeaders(this.#getHeaders()),
      body: cloneBody(this.#body),
      redirect: this.#redirect,
      signal: this.signal,
      cf: this.#cf,
    });
  }

  [inspectSymbol](depth, options, inspect) {
    const fields = { method: this.#method, url: this.#url, headers: this.#getHeaders(), bodyUsed: this.bodyUsed };
    return "Request " + inspect(fields, options);
  }

  static {
    internals = {
      body(request) {
        if (!(#body in request)) throw new TypeError("Illegal invocation");
        return request.#body;
      },
      headers: (request) => request.#getHeaders(),
    };
  }
}
installBodyMixin(Request, internals.body, internals.headers);
defineToStringTag(Request);
makeEnumerable(Request, ["method", "url", "headers", "redirect", "signal", "cf", "clone"]);

// Builds the Request for an incoming HTTP request. `headers` is an array of [name, value]
// pairs; `body` a Uint8Array, a ReadableStream or null.
export function makeRequest(method, url, headers, body = null, cf = {}) {
  let record = null;
  if (body !== null && body !== undefined) {
    record = isReadableStream(body) ? newBody({ bytes: null, stream: body }) : newBody({ bytes: body, stream: null });
  }
  return new Request(kInternal, {
    method: String(method),
    url: String(url),
    headerPairs: headers ?? [],
    body: record,
    cf,
  });
}
