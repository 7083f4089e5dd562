// node:process for party code. partykit dev injects it into every bundle (its inject-process.js,
// over unenv's process), so a free `process` in any user module is this object; the bundler
// (src/project/bundler.cc) does the same and copies the project's .env into `env` before the
// user's modules run. One object per context: all parties of a project share it, as they share
// one bundle in partykit dev. Only what libraries commonly read is real; the rest are no-ops.
import { native } from "../web/native.js";

const now = () => native.now();

export function processModule() {
  const listeners = () => process;
  const startedAt = now();
  const process = {
    env: {},
    argv: [],
    argv0: "",
    execArgv: [],
    execPath: "",
    title: "workerd",
    version: "",
    versions: {},
    platform: "linux",
    arch: "x64",
    pid: 1,
    ppid: 0,
    exitCode: undefined,
    release: { name: "node" },
    features: {},
    cwd: () => "/",
    chdir() {},
    umask: () => 0o22,
    nextTick(callback, ...args) {
      queueMicrotask(() => callback(...args));
    },
    emitWarning(warning) {
      console.warn(typeof warning === "string" ? `Warning: ${warning}` : warning);
    },
    hrtime: Object.assign(
      (previous) => {
        const ns = BigInt(Math.round(now() * 1e6));
        const now = [Number(ns / 1000000000n), Number(ns % 1000000000n)];
        if (!previous) return now;
        let s = now[0] - previous[0];
        let n = now[1] - previous[1];
        if (n < 0) {
          s -= 1;
          n += 1e9;
        }
        return [s, n];
      },
      { bigint: () => BigInt(Math.round(now() * 1e6)) },
    ),
    uptime: () => (now() - startedAt) / 1000,
    memoryUsage: Object.assign(() => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }), {
      rss: () => 0,
    }),
    exit(code) {
      throw new Error(`process.exit(${code ?? ""}) is not supported in party code`);
    },
    abort() {
      throw new Error("process.abort() is not supported in party code");
    },
    on: listeners,
    once: listeners,
    off: listeners,
    addListener: listeners,
    removeListener: listeners,
    removeAllListeners: listeners,
    prependListener: listeners,
    prependOnceListener: listeners,
    listeners: () => [],
    listenerCount: () => 0,
    emit: () => false,
    binding(name) {
      throw new Error(`process.binding(${JSON.stringify(name)}) is not supported`);
    },
  };
  return process;
}
