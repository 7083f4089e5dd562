// The `process` that the npm packages bundled for node/ refer to (util, assert, path-browserify):
// esbuild's --inject hands it to the runtime files that use a free `process`, so it is never a
// global (workerd's nodejs_compat has none either). Only what those packages read is here.
export const process = {
  env: {},
  argv: [],
  pid: 1,
  platform: "linux",
  browser: false,
  noDeprecation: false,
  throwDeprecation: false,
  traceDeprecation: false,
  stderr: undefined,
  cwd: () => "/",
  nextTick(callback, ...args) {
    queueMicrotask(() => callback(...args));
  },
  emitWarning(warning) {
    console.warn(typeof warning === "string" ? `Warning: ${warning}` : warning);
  },
};
