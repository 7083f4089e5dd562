// The URL class (WHATWG URL Standard API): a wrapper over a URL record from url_parser.js, with
// the getters and setters that re-run the parser from a given state, and a live searchParams.
import {
  State,
  cannotHaveCredentialsOrPort,
  hasOpaquePath,
  parseURL,
  serializeOrigin,
  serializePath,
  serializeURL,
} from "./url_parser.js";
import { USERINFO_SET, encodeString } from "./url_percent.js";
import { createBoundSearchParams, resetSearchParams } from "./url_search_params.js";
import { defineToStringTag, inspectSymbol, makeEnumerable, requireArgs, toUSVString } from "./util.js";

// The API URL parser: parses `base` first if given; null on failure of either.
export function parseAPIURL(input, base) {
  let baseRecord = null;
  if (base !== undefined) {
    baseRecord = parseURL(toUSVString(base));
    if (baseRecord === null) return null;
  }
  return parseURL(toUSVString(input), baseRecord);
}

let internals;

export class URL {
  #url;
  #searchParams = null; // made on first use: most URLs are parsed for their pathname only

  constructor(url, base = undefined) {
    requireArgs(arguments.length, 1, "URL constructor");
    const parsed = parseAPIURL(url, base);
    if (parsed === null) throw new TypeError(`Invalid URL: ${String(url)}`);
    this.#url = parsed;
  }

  static canParse(url, base = undefined) {
    requireArgs(arguments.length, 1, "URL.canParse");
    return parseAPIURL(url, base) !== null;
  }

  static parse(url, base = undefined) {
    requireArgs(arguments.length, 1, "URL.parse");
    return parseAPIURL(url, base) === null ? null : new URL(url, base);
  }

  get href() {
    return serializeURL(this.#url);
  }

  set href(value) {
    const parsed = parseURL(toUSVString(value));
    if (parsed === null) throw new TypeError(`Invalid URL: ${String(value)}`);
    this.#url = parsed;
    if (this.#searchParams !== null) resetSearchParams(this.#searchParams, parsed.query ?? "");
  }

  get origin() {
    return serializeOrigin(this.#url);
  }

  get protocol() {
    return this.#url.scheme + ":";
  }

  set protocol(value) {
    parseURL(toUSVString(value) + ":", null, this.#url, State.SCHEME_START);
  }

  get username() {
    return this.#url.username;
  }

  set username(value) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    this.#url.username = encodeString(toUSVString(value), USERINFO_SET);
  }

  get password() {
    return this.#url.password;
  }

  set password(value) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    this.#url.password = encodeString(toUSVString(value), USERINFO_SET);
  }

  get host() {
    const { host, port } = this.#url;
    if (host === null) return "";
    return port === null ? host : `${host}:${port}`;
  }

  set host(value) {
    if (hasOpaquePath(this.#url)) return;
    parseURL(toUSVString(value), null, this.#url, State.HOST);
  }

  get hostname() {
    return this.#url.host ?? "";
  }

  set hostname(value) {
    if (hasOpaquePath(this.#url)) return;
    parseURL(toUSVString(value), null, this.#url, State.HOSTNAME);
  }

  get port() {
    return this.#url.port === null ? "" : String(this.#url.port);
  }

  set port(value) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    value = toUSVString(value);
    if (value === "") this.#url.port = null;
    else parseURL(value, null, this.#url, State.PORT);
  }

  get pathname() {
    return serializePath(this.#url);
  }

  set pathname(value) {
    if (hasOpaquePath(this.#url)) return;
    this.#url.path = [];
    parseURL(toUSVString(value), null, this.#url, State.PATH_START);
  }

  get search() {
    const { query } = this.#url;
    return query === null || query === "" ? "" : "?" + query;
  }

  set search(value) {
    value = toUSVString(value);
    if (value === "") {
      this.#url.query = null;
      if (this.#searchParams !== null) resetSearchParams(this.#searchParams, "");
      return;
    }
    const input = value.startsWith("?") ? value.slice(1) : value;
    this.#url.query = "";
    parseURL(input, null, this.#url, State.QUERY);
    if (this.#searchParams !== null) resetSearchParams(this.#searchParams, input);
  }

  get searchParams() {
    this.#searchParams ??= createBoundSearchParams(this.#url.query ?? "", (query) => {
      this.#url.query = query;
    });
    return this.#searchParams;
  }

  get hash() {
    const { fragment } = this.#url;
    return fragment === null || fragment === "" ? "" : "#" + fragment;
  }

  set hash(value) {
    value = toUSVString(value);
    if (value === "") {
      this.#url.fragment = null;
      return;
    }
    this.#url.fragment = "";
    parseURL(value.startsWith("#") ? value.slice(1) : value, null, this.#url, State.FRAGMENT);
  }

  toString() {
    return this.href;
  }

  toJSON() {
    return this.href;
  }

  [inspectSymbol](depth, options, inspect) {
    const fields = {};
    for (const key of [
      "href", "origin", "protocol", "username", "password", "host", "hostname", "port",
      "pathname", "search", "searchParams", "hash",
    ]) {
      fields[key] = this[key];
    }
    return "URL " + inspect(fields, options);
  }

  static {
    internals = { record: (url) => url.#url };
  }
}
defineToStringTag(URL);
makeEnumerable(URL, [
  "href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname",
  "search", "searchParams", "hash", "toString", "toJSON",
]);

// The URL record behind a URL object (for Request/Response, which keep records, not objects).
export function urlRecord(url) {
  return internals.record(url);
}
