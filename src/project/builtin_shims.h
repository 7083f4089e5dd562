// Stand-ins for modules that workerd provides but a bundle cannot contain: the Node.js built-ins
// ("fs", "node:crypto", ...) and workerd's own ("cloudflare:sockets", ...). An iife bundle has no
// externals, so the bundler aliases each of these to a small generated CommonJS module. At run time
// that module uses globalThis.__partyd_modules["node:fs"] (or ["cloudflare:sockets"]) if the
// runtime put an implementation there, and otherwise is a Proxy whose every use throws an Error
// naming the module, so a project fails with a clear message only when it really needs one.
// This file knows the names and writes the shim text; the bundler decides where files go.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace partyd::project {

struct BuiltinModule {
  std::string_view specifier;   // as imported: "fs", "fs/promises", "cloudflare:sockets"
  bool isNode = false;          // imported as "x" and also as "node:x"
  bool nodePrefixOnly = false;  // only "node:x" names it (node:test, node:sqlite, node:sea)
};

// Every module the bundler shims, Node's list as of Node 20 (minus the internal "_stream_*"-style
// names) plus workerd's "cloudflare:*" modules.
const std::vector<BuiltinModule>& builtinModules();

// The CommonJS source of the shim for one module; `canonical` is the key looked up in
// globalThis.__partyd_modules ("node:fs", "node:fs/promises", "cloudflare:sockets").
std::string builtinShimSource(std::string_view canonical);

}  // namespace partyd::project
