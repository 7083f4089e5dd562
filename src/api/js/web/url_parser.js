// The WHATWG basic URL parser and URL serialiser. A URL record is a plain object:
//   { scheme, username, password, host, port, path, query, fragment }
// where host is the serialised host string (or null), port a number (or null), and path is an
// array of segments, or a string for an opaque path ("mailto:x", "data:..."). parseURL() returns
// the record, or null on failure; with a state override it edits `url` in place (URL setters).
import { parseHost } from "./url_host.js";
import {
  C0_CONTROL_SET,
  FRAGMENT_SET,
  PATH_SET,
  QUERY_SET,
  SPECIAL_QUERY_SET,
  USERINFO_SET,
  encodeCodePoint,
  encodeString,
} from "./url_percent.js";

const kDefaultPorts = new Map([
  ["ftp", 21],
  ["file", null],
  ["http", 80],
  ["https", 443],
  ["ws", 80],
  ["wss", 443],
]);

export const isSpecialScheme = (scheme) => kDefaultPorts.has(scheme);
export const defaultPort = (scheme) => kDefaultPorts.get(scheme) ?? null;

export const State = Object.freeze({
  SCHEME_START: 1,
  SCHEME: 2,
  NO_SCHEME: 3,
  SPECIAL_RELATIVE_OR_AUTHORITY: 4,
  PATH_OR_AUTHORITY: 5,
  RELATIVE: 6,
  RELATIVE_SLASH: 7,
  SPECIAL_AUTHORITY_SLASHES: 8,
  SPECIAL_AUTHORITY_IGNORE_SLASHES: 9,
  AUTHORITY: 10,
  HOST: 11,
  HOSTNAME: 12,
  PORT: 13,
  FILE: 14,
  FILE_SLASH: 15,
  FILE_HOST: 16,
  PATH_START: 17,
  PATH: 18,
  OPAQUE_PATH: 19,
  QUERY: 20,
  FRAGMENT: 21,
});

const EOF = -1;
const isAlpha = (c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c) => c >= 0x30 && c <= 0x39;
const lower = (c) => String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

export function newURLRecord() {
  return {
    scheme: "",
    username: "",
    password: "",
    host: null,
    port: null,
    path: [],
    query: null,
    fragment: null,
  };
}

export const hasOpaquePath = (url) => typeof url.path === "string";
export const includesCredentials = (url) => url.username !== "" || url.password !== "";
export const cannotHaveCredentialsOrPort = (url) =>
  url.host === null || url.host === "" || url.scheme === "file";

function isSingleDot(segment) {
  return segment === "." || segment.toLowerCase() === "%2e";
}

function isDoubleDot(segment) {
  switch (segment.toLowerCase()) {
    case "..":
    case ".%2e":
    case "%2e.":
    case "%2e%2e":
      return true;
    default:
      return false;
  }
}

function isWindowsDriveLetter(s, normalizedOnly = false) {
  return (
    s.length === 2 &&
    isAlpha(s.charCodeAt(0)) &&
    (s[1] === ":" || (!normalizedOnly && s[1] === "|"))
  );
}

// Whether the code points from `start` begin with a drive letter followed by a delimiter or EOF.
function startsWithWindowsDriveLetter(cps, start) {
  if (cps.length - start < 2) return false;
  if (!isAlpha(cps[start]) || (cps[start + 1] !== 0x3a && cps[start + 1] !== 0x7c)) return false;
  if (cps.length - start === 2) return true;
  const next = cps[start + 2];
  return next === 0x2f || next === 0x5c || next === 0x3f || next === 0x23;
}

function shortenPath(url) {
  const { path } = url;
  if (url.scheme === "file" && path.length === 1 && isWindowsDriveLetter(path[0], true)) return;
  path.pop();
}

// ---------------------------------------------------------------------------------------------

// The fast path: most URLs a server sees are absolute http(s) URLs already in their serialised
// form (partyd builds every request's URL so), for which the state machine below only copies
// code points. When the input has this shape, and holds nothing the parser would rewrite (a dot
// segment, an IPv4 address not in its dotted-quad form, a default or zero-led port, upper case),
// the record is cut out of it in one scan; anything else takes the state machine. The result
// does not depend on `base`: an absolute special URL with "//" ignores it. Checked against the
// state machine and Node's URL in tests/unit-js/web_url.test.mjs.
//
// The shape: "http" or "https", "://", a host of lower-case labels ([a-z0-9-]+, dot-separated),
// an optional port ([1-9][0-9]{0,4}), an optional path starting with "/", an optional query;
// path and query hold only code points their percent-encode sets leave alone (in neither: space,
// ", #, <, >, and the backslash of special URLs; in the path also ?, ^, `, {, }; in the query ').
const kHostCode = codeTable("abcdefghijklmnopqrstuvwxyz0123456789-");
const kPathCode = codeTable("!$%&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz|~");
const kQueryCode = (() => {
  const t = new Uint8Array(128);
  for (const c of "!$%&=") t[c.charCodeAt(0)] = 1;
  for (let c = 0x28; c <= 0x3b; c++) t[c] = 1; // ( through ;
  for (let c = 0x3f; c <= 0x7e; c++) t[c] = 1; // ? through ~
  return t;
})();
const kDotSegment = /(?:^|\/)(?:\.|%2e)(?:\.|%2e)?(?:\/|$)/i;

function codeTable(chars) {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

const isDigitCode = (c) => c >= 0x30 && c <= 0x39;

// A record of the fast path. Its path stays the serialised string until something asks for the
// segments (a setter, or the state machine with this record as its base); from then on it is
// the array, as in any record. A handler that reads only the pathname never splits it.
class CanonicalRecord {
  #pathText;
  #path = null;
  constructor(scheme, host, port, pathText, query) {
    this.scheme = scheme;
    this.username = "";
    this.password = "";
    this.host = host;
    this.port = port;
    this.#pathText = pathText;
    this.query = query;
    this.fragment = null;
  }
  get path() {
    if (this.#path === null) {
      this.#path = this.#pathText.slice(1).split("/");
      this.#pathText = null;
    }
    return this.#path;
  }
  set path(value) {
    this.#path = value;
    this.#pathText = null;
  }
  // The serialised path while the segments were never asked for (so none changed), else null.
  get pathText() {
    return this.#pathText;
  }
}

// Whether input[start, end), a host's last label (lower-case letters, digits and '-'), reads as
// an IPv4 number: decimal digits, or "0x" and hex digits.
function numericLabel(input, start, end) {
  let i = start;
  if (end - start >= 2 && input.charCodeAt(i) === 0x30 && input.charCodeAt(i + 1) === 0x78) {
    for (i += 2; i < end; i++) {
      const c = input.charCodeAt(i);
      if (!isDigitCode(c) && !(c >= 0x61 && c <= 0x66)) return false;
    }
    return true;
  }
  for (; i < end; i++) {
    if (!isDigitCode(input.charCodeAt(i))) return false;
  }
  return true;
}

// Whether input[start, end) is an IPv4 address as the parser writes it: four decimal octets of
// 0-255, without leading zeros.
function dottedQuad(input, start, end) {
  let octets = 0;
  let i = start;
  for (;;) {
    const first = i;
    let value = 0;
    for (let c; i < end && isDigitCode((c = input.charCodeAt(i))); i++) value = value * 10 + c - 0x30;
    const digits = i - first;
    if (digits === 0 || digits > 3 || value > 255) return false;
    if (digits > 1 && input.charCodeAt(first) === 0x30) return false;
    if (++octets === 4) return i === end;
    if (i >= end || input.charCodeAt(i) !== 0x2e) return false;
    i++;
  }
}

function parseCanonicalHttp(input) {
  let i;
  let scheme;
  if (input.startsWith("http://")) {
    scheme = "http";
    i = 7;
  } else if (input.startsWith("https://")) {
    scheme = "https";
    i = 8;
  } else {
    return null;
  }
  const n = input.length;
  const hostStart = i;
  let labelStart = i;
  for (;;) {
    const c = i < n ? input.charCodeAt(i) : -1;
    if (c >= 0 && c < 128 && kHostCode[c] === 1) {
      i++;
      continue;
    }
    if (i === labelStart) return null; // an empty label
    if (c !== 0x2e) break;
    i++;
    labelStart = i;
  }
  // A last label that could be a number makes the host an IPv4 address, which the parser writes
  // as a dotted quad: only one already in that form stays on this path.
  if (isDigitCode(input.charCodeAt(labelStart)) && numericLabel(input, labelStart, i) &&
      !dottedQuad(input, hostStart, i)) {
    return null;
  }
  const host = input.slice(hostStart, i);
  let port = null;
  if (i < n && input.charCodeAt(i) === 0x3a) {
    const portStart = ++i;
    if (i >= n || input.charCodeAt(i) < 0x31 || input.charCodeAt(i) > 0x39) return null;
    port = 0;
    for (let c; i < n && isDigitCode((c = input.charCodeAt(i))); i++) port = port * 10 + c - 0x30;
    if (i - portStart > 5 || port > 65535 || port === defaultPort(scheme)) return null;
  }
  let pathText = "/";
  if (i < n && input.charCodeAt(i) === 0x2f) {
    const pathStart = i;
    let mayHaveDots = false;
    for (; i < n; i++) {
      const c = input.charCodeAt(i);
      if (c >= 128 || kPathCode[c] !== 1) break;
      if (c === 0x2e || c === 0x25) mayHaveDots = true;
    }
    pathText = input.slice(pathStart, i);
    if (mayHaveDots && kDotSegment.test(pathText)) return null;
  }
  let query = null;
  if (i < n && input.charCodeAt(i) === 0x3f) {
    const queryStart = ++i;
    for (; i < n; i++) {
      const c = input.charCodeAt(i);
      if (c >= 128 || kQueryCode[c] !== 1) break;
    }
    query = input.slice(queryStart, i);
  }
  if (i !== n) return null;
  return new CanonicalRecord(scheme, host, port, pathText, query);
}

export function parseURL(input, base = null, url = null, stateOverride = null) {
  if (url === null && stateOverride === null) {
    const fast = parseCanonicalHttp(input);
    if (fast !== null) return fast;
  }
  if (url === null) {
    url = newURLRecord();
    input = input.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "");
  }
  input = input.replace(/[\t\n\r]/g, "");
  const cps = Array.from(input, (ch) => ch.codePointAt(0));

  let state = stateOverride ?? State.SCHEME_START;
  let buffer = "";
  let atSignSeen = false;
  let insideBrackets = false;
  let passwordTokenSeen = false;
  const special = () => isSpecialScheme(url.scheme);
  const remainingStartsWith = (pointer, cp) => cps[pointer + 1] === cp;

  for (let pointer = 0; ; pointer++) {
    const c = pointer < cps.length ? cps[pointer] : EOF;
    switch (state) {
      case State.SCHEME_START:
        if (isAlpha(c)) {
          buffer += lower(c);
          state = State.SCHEME;
        } else if (stateOverride === null) {
          state = State.NO_SCHEME;
          pointer--;
        } else {
          return null;
        }
        break;

      case State.SCHEME:
        if (isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e) {
          buffer += lower(c);
        } else if (c === 0x3a) {
          if (stateOverride !== null) {
            if (isSpecialScheme(url.scheme) !== isSpecialScheme(buffer)) return null;
            if ((includesCredentials(url) || url.port !== null) && buffer === "file") return null;
            if (url.scheme === "file" && url.host === "") return null;
          }
          url.scheme = buffer;
          if (stateOverride !== null) {
            if (url.port === defaultPort(url.scheme)) url.port = null;
            return url;
          }
          buffer = "";
          if (url.scheme === "file") {
            state = State.FILE;
          } else if (special() && base !== null && base.scheme === url.scheme) {
            state = State.SPECIAL_RELATIVE_OR_AUTHORITY;
          } else if (special()) {
            state = State.SPECIAL_AUTHORITY_SLASHES;
          } else if (remainingStartsWith(pointer, 0x2f)) {
            state = State.PATH_OR_AUTHORITY;
            pointer++;
          } else {
            url.path = "";
            state = State.OPAQUE_PATH;
          }
        } else if (stateOverride === null) {
          buffer = "";
          state = State.NO_SCHEME;
          pointer = -1; // start over from the first code point
        } else {
          return null;
        }
        break;

      case State.NO_SCHEME:
        if (base === null || (hasOpaquePath(base) && c !== 0x23)) {
          return null;
        } else if (hasOpaquePath(base) && c === 0x23) {
          url.scheme = base.scheme;
          url.path = base.path;
          url.query = base.query;
          url.fragment = "";
          state = State.FRAGMENT;
        } else {
          state = base.scheme !== "file" ? State.RELATIVE : State.FILE;
          pointer--;
        }
        break;

      case State.SPECIAL_RELATIVE_OR_AUTHORITY:
        if (c === 0x2f && remainingStartsWith(pointer, 0x2f)) {
          state = State.SPECIAL_AUTHORITY_IGNORE_SLASHES;
          pointer++;
        } else {
          state = State.RELATIVE;
          pointer--;
        }
        break;

      case State.PATH_OR_AUTHORITY:
        if (c === 0x2f) {
          state = State.AUTHORITY;
        } else {
          state = State.PATH;
          pointer--;
        }
        break;

      case State.RELATIVE:
        url.scheme = base.scheme;
        if (c === 0x2f || (special() && c === 0x5c)) {
          state = State.RELATIVE_SLASH;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          url.path = base.path.slice();
          url.query = base.query;
          if (c === 0x3f) {
            url.query = "";
            state = State.QUERY;
          } else if (c === 0x23) {
            url.fragment = "";
            state = State.FRAGMENT;
          } else if (c !== EOF) {
            url.query = null;
            shortenPath(url);
            state = State.PATH;
            pointer--;
          }
        }
        break;

      case State.RELATIVE_SLASH:
        if (special() && (c === 0x2f || c === 0x5c)) {
          state = State.SPECIAL_AUTHORITY_IGNORE_SLASHES;
        } else if (c === 0x2f) {
          state = State.AUTHORITY;
        } else {
          url.username = base.username;
          url.password = base.password;
          url.host = base.host;
          url.port = base.port;
          state = State.PATH;
          pointer--;
        }
        break;

      case State.SPECIAL_AUTHORITY_SLASHES:
        state = State.SPECIAL_AUTHORITY_IGNORE_SLASHES;
        if (c === 0x2f && remainingStartsWith(pointer, 0x2f)) pointer++;
        else pointer--;
        break;

      case State.SPECIAL_AUTHORITY_IGNORE_SLASHES:
        if (c !== 0x2f && c !== 0x5c) {
          state = State.AUTHORITY;
          pointer--;
        }
        break;

      case State.AUTHORITY:
        if (c === 0x40) {
          if (atSignSeen) buffer = "%40" + buffer;
          atSignSeen = true;
          for (const ch of buffer) {
            const cp = ch.codePointAt(0);
            if (cp === 0x3a && !passwordTokenSeen) {
              passwordTokenSeen = true;
              continue;
            }
            const encoded = encodeCodePoint(cp, USERINFO_SET);
            if (passwordTokenSeen) url.password += encoded;
            else url.username += encoded;
          }
          buffer = "";
        } else if (c === EOF || c === 0x2f || c === 0x3f || c === 0x23 || (special() && c === 0x5c)) {
          if (atSignSeen && buffer === "") return null;
          pointer -= Array.from(buffer).length + 1;
          buffer = "";
          state = State.HOST;
        } else {
          buffer += String.fromCodePoint(c);
        }
        break;

      case State.HOST:
      case State.HOSTNAME:
        if (stateOverride !== null && url.scheme === "file") {
          pointer--;
          state = State.FILE_HOST;
        } else if (c === 0x3a && !insideBrackets) {
          if (buffer === "") return null;
          if (stateOverride === State.HOSTNAME) return null;
          const host = parseHost(buffer, !special());
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = State.PORT;
        } else if (c === EOF || c === 0x2f || c === 0x3f || c === 0x23 || (special() && c === 0x5c)) {
          pointer--;
          if (special() && buffer === "") return null;
          if (
            stateOverride !== null &&
            buffer === "" &&
            (includesCredentials(url) || url.port !== null)
          ) {
            return null;
          }
          const host = parseHost(buffer, !special());
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = State.PATH_START;
          if (stateOverride !== null) return url;
        } else {
          if (c === 0x5b) insideBrackets = true;
          if (c === 0x5d) insideBrackets = false;
          buffer += String.fromCodePoint(c);
        }
        break;

      case State.PORT:
        if (isDigit(c)) {
          buffer += String.fromCharCode(c);
        } else if (
          c === EOF || c === 0x2f || c === 0x3f || c === 0x23 || (special() && c === 0x5c) ||
          stateOverride !== null
        ) {
          if (buffer !== "") {
            const port = Number(buffer);
            if (port > 65535) return null;
            url.port = port === defaultPort(url.scheme) ? null : port;
            buffer = "";
            if (stateOverride !== null) return url;
          }
          if (stateOverride !== null) return null;
          state = State.PATH_START;
          pointer--;
        } else {
          return null;
        }
        break;

      case State.FILE:
        url.scheme = "file";
        url.host = "";
        if (c === 0x2f || c === 0x5c) {
          state = State.FILE_SLASH;
        } else if (base !== null && base.scheme === "file") {
          url.host = base.host;
          url.path = base.path.slice();
          url.query = base.query;
          if (c === 0x3f) {
            url.query = "";
            state = State.QUERY;
          } else if (c === 0x23) {
            url.fragment = "";
            state = State.FRAGMENT;
          } else if (c !== EOF) {
            url.query = null;
            if (!startsWithWindowsDriveLetter(cps, pointer)) shortenPath(url);
            else url.path = [];
            state = State.PATH;
            pointer--;
          }
        } else {
          state = State.PATH;
          pointer--;
        }
        break;

      case State.FILE_SLASH:
        if (c === 0x2f || c === 0x5c) {
          state = State.FILE_HOST;
        } else {
          if (base !== null && base.scheme === "file") {
            url.host = base.host;
            if (
              !startsWithWindowsDriveLetter(cps, pointer) &&
              base.path.length > 0 &&
              isWindowsDriveLetter(base.path[0], true)
            ) {
              url.path.push(base.path[0]);
            }
          }
          state = State.PATH;
          pointer--;
        }
        break;

      case State.FILE_HOST:
        if (c === EOF || c === 0x2f || c === 0x5c || c === 0x3f || c === 0x23) {
          pointer--;
          if (stateOverride === null && isWindowsDriveLetter(buffer)) {
            state = State.PATH; // the buffer is kept and becomes the first path segment
          } else if (buffer === "") {
            url.host = "";
            if (stateOverride !== null) return url;
            state = State.PATH_START;
          } else {
            let host = parseHost(buffer, !special());
            if (host === null) return null;
            if (host === "localhost") host = "";
            url.host = host;
            if (stateOverride !== null) return url;
            buffer = "";
            state = State.PATH_START;
          }
        } else {
          buffer += String.fromCodePoint(c);
        }
        break;

      case State.PATH_START:
        if (special()) {
          state = State.PATH;
          if (c !== 0x2f && c !== 0x5c) pointer--;
        } else if (stateOverride === null && c === 0x3f) {
          url.query = "";
          state = State.QUERY;
        } else if (stateOverride === null && c === 0x23) {
          url.fragment = "";
          state = State.FRAGMENT;
        } else if (c !== EOF) {
          state = State.PATH;
          if (c !== 0x2f) pointer--;
        } else if (stateOverride !== null && url.host === null) {
          url.path.push("");
        }
        break;

      case State.PATH:
        if (
          c === EOF || c === 0x2f || (special() && c === 0x5c) ||
          (stateOverride === null && (c === 0x3f || c === 0x23))
        ) {
          const slash = c === 0x2f || (special() && c === 0x5c);
          if (isDoubleDot(buffer)) {
            shortenPath(url);
            if (!slash) url.path.push("");
          } else if (isSingleDot(buffer) && !slash) {
            url.path.push("");
          } else if (!isSingleDot(buffer)) {
            if (url.scheme === "file" && url.path.length === 0 && isWindowsDriveLetter(buffer)) {
              buffer = buffer[0] + ":";
            }
            url.path.push(buffer);
          }
          buffer = "";
          if (c === 0x3f) {
            url.query = "";
            state = State.QUERY;
          } else if (c === 0x23) {
            url.fragment = "";
            state = State.FRAGMENT;
          }
        } else {
          buffer += encodeCodePoint(c, PATH_SET);
        }
        break;

      case State.OPAQUE_PATH:
        if (c === 0x3f) {
          url.query = "";
          state = State.QUERY;
        } else if (c === 0x23) {
          url.fragment = "";
          state = State.FRAGMENT;
        } else if (c === 0x20) {
          // A space just before the query or fragment is encoded, so that removing them later
          // leaves no trailing space in the path.
          const next = cps[pointer + 1];
          url.path += next === 0x3f || next === 0x23 ? "%20" : " ";
        } else if (c !== EOF) {
          url.path += encodeCodePoint(c, C0_CONTROL_SET);
        }
        break;

      case State.QUERY:
        if ((stateOverride === null && c === 0x23) || c === EOF) {
          url.query += encodeString(buffer, special() ? SPECIAL_QUERY_SET : QUERY_SET);
          buffer = "";
          if (c === 0x23) {
            url.fragment = "";
            state = State.FRAGMENT;
          }
        } else {
          buffer += String.fromCodePoint(c);
        }
        break;

      case State.FRAGMENT:
        if (c !== EOF) url.fragment += encodeCodePoint(c, FRAGMENT_SET);
        break;
    }
    if (pointer >= cps.length) break;
  }
  return url;
}

// ---------------------------------------------------------------------------------------------

export function serializePath(url) {
  if (url instanceof CanonicalRecord && url.pathText !== null) return url.pathText;
  if (hasOpaquePath(url)) return url.path;
  let out = "";
  for (const segment of url.path) out += "/" + segment;
  return out;
}

export function serializeURL(url, excludeFragment = false) {
  let out = url.scheme + ":";
  if (url.host !== null) {
    out += "//";
    if (includesCredentials(url)) {
      out += url.username;
      if (url.password !== "") out += ":" + url.password;
      out += "@";
    }
    out += url.host;
    if (url.port !== null) out += ":" + url.port;
  } else if (!hasOpaquePath(url) && url.path.length > 1 && url.path[0] === "") {
    out += "/.";
  }
  out += serializePath(url);
  if (url.query !== null) out += "?" + url.query;
  if (!excludeFragment && url.fragment !== null) out += "#" + url.fragment;
  return out;
}

export function serializeOrigin(url) {
  switch (url.scheme) {
    case "blob": {
      if (hasOpaquePath(url) || url.path.length > 0) {
        const inner = parseURL(serializePath(url));
        if (inner !== null && (inner.scheme === "http" || inner.scheme === "https")) {
          return serializeOrigin(inner);
        }
      }
      return "null";
    }
    case "ftp":
    case "http":
    case "https":
    case "ws":
    case "wss":
      return `${url.scheme}://${url.host}${url.port === null ? "" : ":" + url.port}`;
    default:
      return "null";
  }
}

