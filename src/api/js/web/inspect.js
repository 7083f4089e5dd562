// inspect(value): renders any JS value as readable text for console output. It follows the
// shape of Node's util.inspect (quoting, `{ a: 1 }`, `Map(1) { 'a' => 1 }`, `[Circular]`, line
// breaking at 80 columns) without its colour and option surface. Objects may customise their
// rendering with the `Symbol.for("nodejs.util.inspect.custom")` method, as in Node.
import { inspectSymbol } from "./util.js";

const kBreakLength = 80;
const kMaxArrayLength = 100;
const kMaxStringLength = 10000;
const kIdentifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function inspect(value, options = {}) {
  const ctx = {
    depth: options.depth === undefined ? 2 : options.depth === null ? Infinity : options.depth,
    seen: [],
    indentation: 0,
    currentDepth: 0,
  };
  return formatValue(ctx, value, 0);
}

// ---------------------------------------------------------------------------------------------
// Primitives

export function quoteString(s) {
  let quote = "'";
  if (s.includes("'")) {
    if (!s.includes('"')) quote = '"';
    else if (!s.includes("`") && !s.includes("${")) quote = "`";
  }
  let out = quote;
  const limit = Math.min(s.length, kMaxStringLength);
  for (let i = 0; i < limit; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\v") out += "\\v";
    else if (code < 0x20 || code === 0x7f) {
      out += "\\x" + code.toString(16).toUpperCase().padStart(2, "0");
    } else out += ch;
  }
  out += quote;
  if (s.length > limit) out += `... ${s.length - limit} more characters`;
  return out;
}

function formatNumber(n) {
  return Object.is(n, -0) ? "-0" : String(n);
}

function formatPrimitive(value) {
  switch (typeof value) {
    case "string":
      return quoteString(value);
    case "number":
      return formatNumber(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    default:
      return String(value); // undefined, null, boolean
  }
}

// ---------------------------------------------------------------------------------------------
// Objects

function formatValue(ctx, value, level) {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return formatPrimitive(value);
  }
  if (ctx.seen.includes(value)) return "[Circular]";

  let custom;
  try {
    custom = value[inspectSymbol];
  } catch {
    custom = undefined;
  }
  if (typeof custom === "function" && custom !== inspect) {
    const remaining = ctx.depth - level;
    const result = custom.call(value, remaining, { depth: remaining, stylize: (s) => s }, inspect);
    if (result !== value) {
      if (typeof result === "string") return indentLines(result, ctx.indentation);
      return formatValue(ctx, result, level);
    }
  }
  return formatObject(ctx, value, level);
}

function indentLines(text, indentation) {
  if (indentation === 0 || !text.includes("\n")) return text;
  return text.split("\n").join("\n" + " ".repeat(indentation));
}

function constructorName(value) {
  let proto = Object.getPrototypeOf(value);
  while (proto !== null) {
    const desc = Object.getOwnPropertyDescriptor(proto, "constructor");
    if (desc && typeof desc.value === "function" && desc.value.name !== "") return desc.value.name;
    proto = Object.getPrototypeOf(proto);
  }
  return null;
}

// The "Foo [Tag]" prefix that precedes braces, or "" for plain objects and arrays.
function prefixFor(value, name, fallback, size) {
  let tag = value[Symbol.toStringTag];
  if (typeof tag !== "string" || tag === name) tag = "";
  let prefix;
  if (name === null) prefix = `[${fallback}: null prototype]`;
  else prefix = name;
  if (size !== undefined) prefix += `(${size})`;
  if (tag !== "") prefix += ` [${tag}]`;
  return prefix;
}

function isError(value) {
  return value instanceof Error || Object.prototype.toString.call(value) === "[object Error]";
}

function functionBase(fn) {
  const name = fn.name ? `: ${fn.name}` : " (anonymous)";
  let source = "";
  try {
    source = Function.prototype.toString.call(fn);
  } catch {}
  if (source.startsWith("class") && /^class\b/.test(source)) {
    return fn.name ? `[class ${fn.name}]` : "[class (anonymous)]";
  }
  const tag = fn[Symbol.toStringTag];
  const kind = typeof tag === "string" && tag.endsWith("Function") ? tag : "Function";
  return `[${kind}${name}]`;
}

function formatObject(ctx, value, level) {
  const name = constructorName(value);
  let keys = ownKeys(value);
  let braces = ["{", "}"];
  let base = "";
  let entries = null; // a function that fills `output` with the structural entries
  let kind = "object";

  if (Array.isArray(value)) {
    const prefix = name === "Array" ? "" : prefixFor(value, name, "Array", value.length) + " ";
    braces = [`${prefix}[`, "]"];
    keys = keys.filter((k) => typeof k === "symbol" || !isIndex(k));
    entries = (out) => formatArrayItems(ctx, value, value.length, level, out);
    kind = "array";
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    braces = [`${prefixFor(value, name, "TypedArray", value.length)} [`, "]"];
    keys = keys.filter((k) => typeof k === "symbol" || !isIndex(k));
    entries = (out) => formatArrayItems(ctx, value, value.length, level, out);
    kind = "array";
  } else if (value instanceof ArrayBuffer) {
    braces = [`${prefixFor(value, name, "ArrayBuffer")} {`, "}"];
    entries = (out) => {
      const bytes = new Uint8Array(value);
      const shown = Array.from(bytes.subarray(0, 50), (b) => b.toString(16).padStart(2, "0"));
      const more = bytes.length > 50 ? ` ... ${bytes.length - 50} more bytes` : "";
      out.push(`[Uint8Contents]: <${shown.join(" ")}${more}>`, `byteLength: ${value.byteLength}`);
    };
  } else if (value instanceof Map) {
    braces = [`${prefixFor(value, name, "Map", value.size)} {`, "}"];
    entries = (out) => {
      for (const [k, v] of value) {
        out.push(`${formatValue(ctx, k, level + 1)} => ${formatValue(ctx, v, level + 1)}`);
      }
    };
  } else if (value instanceof Set) {
    braces = [`${prefixFor(value, name, "Set", value.size)} {`, "}"];
    entries = (out) => {
      for (const v of value) out.push(formatValue(ctx, v, level + 1));
    };
    kind = "array";
  } else if (typeof value === "function") {
    base = functionBase(value);
    if (keys.length === 0) return base;
  } else if (isError(value)) {
    base = formatError(value, ctx.indentation);
    keys = keys.filter((k) => k !== "stack" && k !== "message");
    if (Object.prototype.hasOwnProperty.call(value, "cause") && !keys.includes("cause")) {
      keys.push("cause");
    }
    if (keys.length === 0) return base;
  } else if (value instanceof Date) {
    base = Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
    if (keys.length === 0) return base;
  } else if (value instanceof RegExp) {
    base = RegExp.prototype.toString.call(value);
    if (keys.length === 0) return base;
  } else if (value instanceof WeakMap || value instanceof WeakSet) {
    return `${prefixFor(value, name, "Object")} { <items unknown> }`;
  } else if (value instanceof Promise) {
    braces = [`${prefixFor(value, name, "Promise")} {`, "}"];
  } else if (isBoxedPrimitive(value)) {
    const primitive = value.valueOf();
    const type = typeof primitive === "symbol" ? "Symbol" : name ?? "Object";
    base = `[${type}: ${formatPrimitive(primitive)}]`;
    if (typeof primitive === "string") keys = keys.filter((k) => !isIndex(k));
    if (keys.length === 0) return base;
  } else {
    const prefix = prefixFor(value, name, "Object");
    braces = [prefix === "Object" ? "{" : `${prefix} {`, "}"];
  }

  if (level > ctx.depth) {
    if (kind === "array" && Array.isArray(value)) return "[Array]";
    return `[${name ?? "Object"}]`;
  }

  ctx.seen.push(value);
  ctx.currentDepth = level;
  const output = [];
  const savedIndentation = ctx.indentation;
  ctx.indentation += 2;
  try {
    if (entries !== null) entries(output);
    for (const key of keys) output.push(formatProperty(ctx, value, key, level));
  } finally {
    ctx.indentation = savedIndentation;
    ctx.seen.pop();
  }

  if (output.length === 0) {
    if (base !== "") return base;
    return `${braces[0]}${braces[1]}`;
  }
  return reduceToSingleString(ctx, output, base, braces, kind, level);
}

function formatError(error, indentation) {
  let text;
  try {
    text = typeof error.stack === "string" && error.stack !== "" ? error.stack : null;
  } catch {
    text = null;
  }
  if (text === null) text = `[${Error.prototype.toString.call(error)}]`;
  return indentLines(text, indentation);
}

function isBoxedPrimitive(value) {
  return (
    value instanceof String ||
    value instanceof Number ||
    value instanceof Boolean ||
    (typeof BigInt === "function" && value instanceof BigInt) ||
    value instanceof Symbol
  );
}

function isIndex(key) {
  return typeof key === "string" && /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

function ownKeys(value) {
  const keys = Object.keys(value);
  for (const sym of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, sym)) keys.push(sym);
  }
  return keys;
}

function formatKey(key) {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return kIdentifier.test(key) ? key : quoteString(key);
}

function formatProperty(ctx, object, key, level) {
  const desc = Object.getOwnPropertyDescriptor(object, key) ?? { value: object[key] };
  const label = key === "cause" && isError(object) && !desc.enumerable ? "[cause]" : formatKey(key);
  if (desc.get || desc.set) {
    const what = desc.get && desc.set ? "Getter/Setter" : desc.get ? "Getter" : "Setter";
    return `${label}: [${what}]`;
  }
  return `${label}: ${formatValue(ctx, desc.value, level + 1)}`;
}

function formatArrayItems(ctx, array, length, level, out) {
  const limit = Math.min(length, kMaxArrayLength);
  let holes = 0;
  const flushHoles = () => {
    if (holes > 0) out.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
    holes = 0;
  };
  for (let i = 0; i < limit; i++) {
    if (!(i in array)) {
      holes++;
      continue;
    }
    flushHoles();
    out.push(formatValue(ctx, array[i], level + 1));
  }
  flushHoles();
  if (length > limit) out.push(`... ${length - limit} more item${length - limit > 1 ? "s" : ""}`);
}

// ---------------------------------------------------------------------------------------------
// Layout

function reduceToSingleString(ctx, output, base, braces, kind, level) {
  const entryCount = output.length;
  if (kind === "array" && entryCount > 6) output = groupIntoColumns(ctx, output);
  const head = base === "" ? braces[0] : `${base} ${braces[0]}`;
  // Keep short objects on one line, unless they nest three or more levels of objects.
  if (ctx.currentDepth - level < 3 && entryCount === output.length) {
    const start = output.length + ctx.indentation + braces[0].length + base.length + 10;
    const total = output.reduce((sum, entry) => sum + entry.length, start + output.length);
    if (total <= kBreakLength && !base.includes("\n")) {
      const joined = output.join(", ");
      if (!joined.includes("\n")) return `${head} ${joined} ${braces[1]}`;
    }
  }
  const indent = "\n" + " ".repeat(ctx.indentation);
  return `${head}${indent}  ${output.join(`,${indent}  `)}${indent}${braces[1]}`;
}

// Long arrays of short items are laid out in aligned columns rather than one item per line.
function groupIntoColumns(ctx, output) {
  const hasMore = output[output.length - 1].startsWith("... ");
  const items = hasMore ? output.slice(0, -1) : output;
  if (items.some((item) => item.includes("\n"))) return output;
  const lengths = items.map((item) => item.length);
  const maxLength = Math.max(...lengths);
  const total = lengths.reduce((sum, n) => sum + n + 2, 0);
  const cell = maxLength + 2;
  if (cell * 3 + ctx.indentation >= kBreakLength || (total / cell <= 5 && maxLength > 6)) {
    return output;
  }
  // Aim for a roughly 2.5:1 block, biased towards fewer columns when widths vary a lot.
  const averageBias = Math.sqrt(cell - total / items.length);
  const biasedMax = Math.max(cell - 3 - averageBias, 1);
  const columns = Math.min(
    Math.round(Math.sqrt(2.5 * biasedMax * items.length) / biasedMax),
    Math.floor((kBreakLength - ctx.indentation) / cell),
    12,
  );
  if (columns <= 1) return output;
  const widths = [];
  for (let c = 0; c < columns; c++) {
    let width = 0;
    for (let i = c; i < items.length; i += columns) width = Math.max(width, lengths[i]);
    widths.push(width);
  }
  const numeric = items.every((item) => /^-?[0-9.]+n?$|^NaN$|^-?Infinity$/.test(item));
  const rows = [];
  for (let i = 0; i < items.length; i += columns) {
    const row = [];
    for (let j = i; j < Math.min(i + columns, items.length); j++) {
      const isLast = j === Math.min(i + columns, items.length) - 1;
      const cellText = isLast ? items[j] : `${items[j]},`;
      const width = widths[j - i] + (isLast ? 0 : 1);
      row.push(numeric ? cellText.padStart(width) : isLast ? cellText : cellText.padEnd(width));
    }
    rows.push(row.join(" "));
  }
  if (hasMore) rows.push(output[output.length - 1]);
  return rows;
}
