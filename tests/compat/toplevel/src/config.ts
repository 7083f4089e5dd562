// A module that finishes loading only after top-level awaits. (Not of a WebAssembly.compile:
// workerd refuses to compile wasm from bytes at run time.)
const steps: string[] = [];
steps.push(await Promise.resolve("promise"));
steps.push(await new Promise<string>((resolve) => queueMicrotask(() => resolve("microtask"))));
steps.push(await (async () => "async function")());
export const loaded = steps;
