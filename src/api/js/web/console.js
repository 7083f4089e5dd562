// The console global: formats its arguments (printf-style substitutions, then inspect() for the
// rest) and hands one line per call to native.log with a level. Also owns reportException(),
// which the event dispatcher uses for listener errors the spec says to "report".
import { native } from "./native.js";
import { inspect } from "./inspect.js";

const kDebug = 0;
const kInfo = 1;
const kWarn = 2;
const kError = 3;

// Node-style format(): substitutions in a leading string, remaining arguments joined by spaces.
export function format(...args) {
  if (args.length === 0) return "";
  const first = args[0];
  let out = "";
  let next = 1;
  if (typeof first === "string") {
    if (args.length === 1) return first;
    let last = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) !== 37) continue; // '%'
      const spec = first[i + 1];
      if (spec === "%") {
        out += first.slice(last, i) + "%";
        last = i + 2;
        i++;
        continue;
      }
      if (next >= args.length || !"sdifjoOc".includes(spec)) continue;
      out += first.slice(last, i) + substitute(spec, args[next++]);
      last = i + 2;
      i++;
    }
    out += first.slice(last);
  } else {
    out = inspect(first);
  }
  for (; next < args.length; next++) {
    const arg = args[next];
    out += " " + (typeof arg === "string" ? arg : inspect(arg));
  }
  return out;
}

function substitute(spec, arg) {
  switch (spec) {
    case "s":
      if (typeof arg === "bigint") return `${arg}n`;
      if (typeof arg === "symbol") return arg.toString();
      if (typeof arg === "number" && Object.is(arg, -0)) return "-0";
      if (typeof arg === "object" && arg !== null) return inspect(arg, { depth: 1 });
      return String(arg);
    case "d":
    case "i": {
      if (typeof arg === "bigint") return `${arg}n`;
      if (typeof arg === "symbol" || (typeof arg === "object" && arg !== null)) return "NaN";
      const n = spec === "d" ? Number(arg) : parseInt(arg, 10);
      return Object.is(n, -0) ? "-0" : String(n);
    }
    case "f":
      return typeof arg === "symbol" ? "NaN" : String(parseFloat(arg));
    case "j":
      try {
        return String(JSON.stringify(arg));
      } catch (error) {
        if (error instanceof TypeError && /circular/i.test(error.message)) return "[Circular]";
        throw error;
      }
    case "o":
      return inspect(arg, { depth: 4 });
    case "O":
      return inspect(arg);
    default: // %c: CSS styling, meaningless here
      return "";
  }
}

export function reportException(error) {
  native.log(kError, "Uncaught " + (typeof error === "string" ? error : inspect(error)));
}

// ---------------------------------------------------------------------------------------------

export function createConsole() {
  let groupIndent = "";
  const counts = new Map();
  const timers = new Map();

  const print = (level, text) => {
    if (groupIndent !== "") text = groupIndent + text.split("\n").join("\n" + groupIndent);
    native.log(level, text);
  };
  const elapsed = (label) => {
    const ms = native.now() - timers.get(label);
    return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
  };

  const methods = {
    log: (...args) => print(kInfo, format(...args)),
    info: (...args) => print(kInfo, format(...args)),
    debug: (...args) => print(kDebug, format(...args)),
    warn: (...args) => print(kWarn, format(...args)),
    error: (...args) => print(kError, format(...args)),
    trace: (...args) => {
      const holder = { name: "Trace", message: format(...args) };
      Error.captureStackTrace?.(holder, methods.trace);
      const stack = typeof holder.stack === "string" ? holder.stack : `Trace: ${holder.message}`;
      print(kError, stack);
    },
    dir: (value, options = {}) => print(kInfo, inspect(value, options ?? {})),
    dirxml: (...args) => print(kInfo, format(...args)),
    table: (data, columns) => print(kInfo, formatTable(data, columns)),
    assert: (condition, ...args) => {
      if (condition) return;
      if (args.length === 0) print(kWarn, "Assertion failed");
      else if (typeof args[0] === "string") print(kWarn, format(`Assertion failed: ${args[0]}`, ...args.slice(1)));
      else print(kWarn, format("Assertion failed:", ...args));
    },
    count: (label = "default") => {
      label = String(label);
      const n = (counts.get(label) ?? 0) + 1;
      counts.set(label, n);
      print(kInfo, `${label}: ${n}`);
    },
    countReset: (label = "default") => {
      label = String(label);
      if (counts.has(label)) counts.set(label, 0);
      else print(kWarn, `Count for '${label}' does not exist`);
    },
    time: (label = "default") => {
      label = String(label);
      if (timers.has(label)) print(kWarn, `Warning: Label '${label}' already exists for console.time()`);
      else timers.set(label, native.now());
    },
    timeLog: (label = "default", ...data) => {
      label = String(label);
      if (!timers.has(label)) {
        print(kWarn, `Warning: No such label '${label}' for console.timeLog()`);
        return;
      }
      print(kInfo, format(`${label}: ${elapsed(label)}`, ...data));
    },
    timeEnd: (label = "default") => {
      label = String(label);
      if (!timers.has(label)) {
        print(kWarn, `Warning: No such label '${label}' for console.timeEnd()`);
        return;
      }
      print(kInfo, `${label}: ${elapsed(label)}`);
      timers.delete(label);
    },
    group: (...args) => {
      if (args.length > 0) print(kInfo, format(...args));
      groupIndent += "  ";
    },
    groupCollapsed: (...args) => methods.group(...args),
    groupEnd: () => {
      groupIndent = groupIndent.slice(0, -2);
    },
    clear: () => {},
  };

  const console = {};
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(fn, "name", { value: name });
    Object.defineProperty(console, name, {
      value: fn,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  Object.defineProperty(console, Symbol.toStringTag, { value: "console", configurable: true });
  return console;
}

// console.table: a box-drawn table of the rows (own keys) and columns (their keys), Node-style.
function formatTable(data, columns) {
  if (data === null || typeof data !== "object") return format(data);
  const cell = (v) => inspect(v, { depth: 0 });
  const rows = data instanceof Map ? [...data.entries()] : Object.entries(data);
  const header = ["(index)"];
  const valueColumn = [];
  let hasValues = false;
  const keyed = new Map(); // column name -> array of cells by row
  const wanted = Array.isArray(columns) ? columns.map(String) : null;
  rows.forEach(([, row], r) => {
    if (row !== null && typeof row === "object") {
      for (const key of wanted ?? Object.keys(row)) {
        if (!keyed.has(key)) keyed.set(key, []);
        if (key in row) keyed.get(key)[r] = cell(row[key]);
      }
    } else {
      hasValues = true;
      valueColumn[r] = cell(row);
    }
  });
  header.push(...keyed.keys());
  if (hasValues) header.push("Values");
  const table = rows.map(([index], r) => {
    const line = [String(index)];
    for (const values of keyed.values()) line.push(values[r] ?? "");
    if (hasValues) line.push(valueColumn[r] ?? "");
    return line;
  });
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((line) => line[c].length)) + 2);
  const center = (text, width) => {
    const left = Math.floor((width - text.length) / 2);
    return " ".repeat(left) + text + " ".repeat(width - text.length - left);
  };
  const rule = (l, m, r) => l + widths.map((w) => "─".repeat(w)).join(m) + r;
  const line = (cells) => "│" + cells.map((c, i) => center(c, widths[i])).join("│") + "│";
  return [
    rule("┌", "┬", "┐"),
    line(header),
    rule("├", "┼", "┤"),
    ...table.map(line),
    rule("└", "┴", "┘"),
  ].join("\n");
}
