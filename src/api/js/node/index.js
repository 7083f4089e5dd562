// Entry point of the Node.js built-ins: installNodeModules(global) defines
// globalThis.__partyd_modules, where the bundler's shims for `node:*` imports find the modules
// (src/project/builtin_shims.cc). Each module is made on first use, so a project that imports
// none pays only for this table. What workerd's nodejs_compat had in mid-2024: buffer, events,
// async_hooks, crypto, util, path, string_decoder and assert; no `Buffer` or `process` global
// (see README.md). node:process is what the bundler injects as a free `process` (PartyKit does).
import { assertModule } from "./assert.js";
import { asyncHooksModule } from "./async_hooks.js";
import { bufferModule } from "./buffer.js";
import { cryptoModule } from "./crypto.js";
import { eventsModule } from "./events.js";
import { pathModule } from "./path.js";
import { processModule } from "./process_module.js";
import { stringDecoderModule } from "./string_decoder.js";
import { utilModule, utilTypesModule } from "./util.js";

const kModules = {
  "node:assert": assertModule,
  "node:assert/strict": () => assertModule().strict,
  "node:async_hooks": asyncHooksModule,
  "node:buffer": bufferModule,
  "node:crypto": cryptoModule,
  "node:events": eventsModule,
  "node:path": pathModule,
  "node:path/posix": pathModule,
  "node:process": once(processModule),
  "node:string_decoder": stringDecoderModule,
  "node:util": utilModule,
  "node:util/types": utilTypesModule,
};

// A module whose one instance is shared by every import (node:process holds state: env).
function once(make) {
  let made;
  return () => (made ??= make());
}

export function installNodeModules(global) {
  const modules = Object.create(null);
  for (const [name, make] of Object.entries(kModules)) {
    Object.defineProperty(modules, name, { get: make, enumerable: true });
  }
  Object.defineProperty(global, "__partyd_modules", { value: Object.freeze(modules) });
}
