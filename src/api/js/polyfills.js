// The ES built-ins that workerd (V8 12.x in mid-2024) has and partyd's V8 10.2 lacks, from
// core-js (pinned in package.json), bundled into the runtime: only these modules, nothing V8 10.2
// already does. installPolyfills() runs after the web globals exist: core-js implements
// ArrayBuffer.prototype.transfer on structuredClone's transfer list, which really detaches (a
// native moves the backing store), and probes for it when its module loads.
//
// Cost, measured per isolate (docs/compatibility.md, "ES built-ins"): a few hundred KB of
// runtime script and the start-up time to run these modules once per shard context.
export function installPolyfills() {
  // Array and TypedArray: change array by copy (ES2023).
  require("core-js/modules/es.array.to-reversed.js");
  require("core-js/modules/es.array.to-sorted.js");
  require("core-js/modules/es.array.to-spliced.js");
  require("core-js/modules/es.array.with.js");
  require("core-js/modules/es.typed-array.to-reversed.js");
  require("core-js/modules/es.typed-array.to-sorted.js");
  require("core-js/modules/es.typed-array.with.js");
  // Grouping, Promise.withResolvers, well-formed strings (ES2024).
  require("core-js/modules/es.object.group-by.js");
  require("core-js/modules/es.map.group-by.js");
  require("core-js/modules/es.promise.with-resolvers.js");
  require("core-js/modules/es.string.is-well-formed.js");
  require("core-js/modules/es.string.to-well-formed.js");
  // ArrayBuffer transfer and detached (ES2024).
  require("core-js/modules/es.array-buffer.detached.js");
  require("core-js/modules/es.array-buffer.transfer.js");
  require("core-js/modules/es.array-buffer.transfer-to-fixed-length.js");
  // Set methods (ES2025).
  require("core-js/modules/es.set.union.v2.js");
  require("core-js/modules/es.set.intersection.v2.js");
  require("core-js/modules/es.set.difference.v2.js");
  require("core-js/modules/es.set.symmetric-difference.v2.js");
  require("core-js/modules/es.set.is-subset-of.v2.js");
  require("core-js/modules/es.set.is-superset-of.v2.js");
  require("core-js/modules/es.set.is-disjoint-from.v2.js");
  // Iterator helpers and Iterator.from (ES2025).
  require("core-js/modules/es.iterator.constructor.js");
  require("core-js/modules/es.iterator.from.js");
  require("core-js/modules/es.iterator.drop.js");
  require("core-js/modules/es.iterator.every.js");
  require("core-js/modules/es.iterator.filter.js");
  require("core-js/modules/es.iterator.find.js");
  require("core-js/modules/es.iterator.flat-map.js");
  require("core-js/modules/es.iterator.for-each.js");
  require("core-js/modules/es.iterator.map.js");
  require("core-js/modules/es.iterator.reduce.js");
  require("core-js/modules/es.iterator.some.js");
  require("core-js/modules/es.iterator.take.js");
  require("core-js/modules/es.iterator.to-array.js");
  // Array.fromAsync (ES2026), Symbol.dispose and Symbol.asyncDispose (explicit resource management).
  require("core-js/modules/es.array.from-async.js");
  require("core-js/modules/es.symbol.dispose.js");
  require("core-js/modules/es.symbol.async-dispose.js");
}
