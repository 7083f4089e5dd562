// A Jepsen-style history of client operations and the checker of per-room counters
// (/work/shared/CLUSTER.md, "Jepsen-style checks").
//
// Each operation is recorded as an invoke, then exactly one completion:
//   ok   - the server acknowledged it; for `incr` the value is the counter after it, for `read` the
//          counter's value;
//   fail - it certainly did not happen (e.g. the connection was refused: nothing was sent);
//   info - unknown: it may or may not have happened (timeout, reset, 5xx from a forwarding node).
// An operation still pending when the history is checked counts as info. Times are monotonic
// milliseconds (process.hrtime) since the history began.
//
// What checkCounter checks, per key (room):
//   1. ok incr values are positive integers and unique (two acknowledged incrs never see the same
//      value: a duplicate means a lost update or two live instances);
//   2. real-time order: A.ok < B.invoke  =>  val(A) < val(B), for ok incrs A and B;
//   3. the final read (after every fault healed) lies in [#ok, #ok + #info] over incrs, and every
//      ok incr value is <= the final read (an acknowledged write is never lost, and no write that
//      failed or was never made appears);
//   4. reads inside the history (if any): a read is >= every incr value acknowledged before it
//      was invoked, >= every read completed before it was invoked, and <= the number of incrs
//      (not failed) invoked before it completed.
// Together, for a counter whose incr returns its new value, these are the linearizability
// conditions that can be checked without a search: there is a total order of the incrs that
// respects real time and gives each acknowledged incr its value.

export class History {
  constructor() {
    this.ops = [];
    this.t0 = process.hrtime.bigint();
  }
  now() {
    return Number(process.hrtime.bigint() - this.t0) / 1e6;
  }
  /** Records the start of an operation `f` ("incr" or "read") on `key` by client `process`. */
  invoke(process, f, key, extra = {}) {
    const op = { id: this.ops.length, process, f, key, invoke: this.now(), complete: null, type: null, value: null, ...extra };
    this.ops.push(op);
    return op;
  }
  #complete(op, type, value, error) {
    if (op.type !== null) throw new Error(`op ${op.id} completed twice (${op.type}, then ${type})`);
    op.type = type;
    op.complete = this.now();
    if (value !== undefined) op.value = value;
    if (error !== undefined) op.error = String(error?.message ?? error);
    return op;
  }
  ok(op, value) {
    return this.#complete(op, "ok", value);
  }
  fail(op, error) {
    return this.#complete(op, "fail", undefined, error);
  }
  info(op, error) {
    return this.#complete(op, "info", undefined, error);
  }
  /** Counts by key and type, for the log. */
  summary() {
    const s = {};
    for (const op of this.ops) {
      const k = (s[op.key] ??= { ok: 0, fail: 0, info: 0, pending: 0 });
      k[op.type ?? "pending"]++;
    }
    return s;
  }
  toJSON() {
    return this.ops;
  }
}

/**
 * Checks a counter history. `ops`: the History's ops (or plain objects of the same shape);
 * `finals`: { [key]: final read value } (keys without one skip check 3).
 * Returns { valid, errors: [{kind, key, message}], stats: {[key]: {ok, info, fail, final}} }.
 * kinds: "bad-value", "duplicate-value", "real-time-order", "lost-write", "final-too-high",
 *        "read-too-low", "read-too-high".
 */
export function checkCounter(ops, finals = {}, { maxErrors = 20 } = {}) {
  const errors = [];
  const stats = {};
  const byKey = new Map();
  for (const op of ops) {
    if (!byKey.has(op.key)) byKey.set(op.key, []);
    byKey.get(op.key).push(op);
  }
  const add = (kind, key, message) => {
    if (errors.length < maxErrors) errors.push({ kind, key, message });
    else if (errors.length === maxErrors) errors.push({ kind: "more", key, message: "(more errors left out)" });
  };
  const show = (op) =>
    `op ${op.id} (${op.f} by ${op.process}${op.node ? " via " + op.node : ""}, ` +
    `${op.invoke.toFixed(1)}..${op.complete?.toFixed(1) ?? "?"} ms${op.value !== null ? ", value " + op.value : ""})`;

  for (const [key, list] of byKey) {
    const incrs = list.filter((o) => o.f === "incr");
    const oks = incrs.filter((o) => o.type === "ok");
    const infos = incrs.filter((o) => o.type === "info" || o.type === null);
    const nFail = incrs.length - oks.length - infos.length;
    stats[key] = { ok: oks.length, info: infos.length, fail: nFail, final: finals[key] ?? null };

    // 1. values are positive integers, unique
    const seen = new Map();
    for (const o of oks) {
      if (!Number.isInteger(o.value) || o.value < 1) {
        add("bad-value", key, `${show(o)}: an incr must return a positive integer`);
        continue;
      }
      if (seen.has(o.value)) {
        add("duplicate-value", key, `${show(seen.get(o.value))} and ${show(o)} both acknowledged value ${o.value}`);
      } else seen.set(o.value, o);
    }

    // 2. real time: sweep the oks by invoke time, keeping the largest value among those
    //    completed before the current invoke.
    const byComplete = [...oks].sort((a, b) => a.complete - b.complete);
    const byInvoke = [...oks].sort((a, b) => a.invoke - b.invoke);
    let i = 0;
    let best = null; // the ok with the largest value completed so far
    for (const b of byInvoke) {
      while (i < byComplete.length && byComplete[i].complete < b.invoke) {
        if (best === null || byComplete[i].value > best.value) best = byComplete[i];
        i++;
      }
      if (best !== null && !(best.value < b.value)) {
        add("real-time-order", key, `${show(best)} was acknowledged before ${show(b)} began, but its value is not lower`);
      }
    }

    // 3. the final read
    if (finals[key] !== undefined && finals[key] !== null) {
      const f = finals[key];
      if (f < oks.length) {
        add("lost-write", key, `final read ${f} < ${oks.length} acknowledged incrs: acknowledged writes were lost`);
      }
      if (f > oks.length + infos.length) {
        add("final-too-high", key,
            `final read ${f} > ${oks.length} ok + ${infos.length} indeterminate incrs: a failed or never-made incr was applied`);
      }
      for (const o of oks) {
        if (o.value > f) add("lost-write", key, `${show(o)} was acknowledged, but the final read is ${f}`);
      }
    }

    // 4. reads inside the history
    const reads = list.filter((o) => o.f === "read" && o.type === "ok");
    if (reads.length) {
      const notFailed = incrs.filter((o) => o.type !== "fail");
      for (const r of reads) {
        let floor = null;
        for (const o of oks) if (o.complete < r.invoke && (floor === null || o.value > floor.value)) floor = o;
        for (const o of reads) if (o.complete < r.invoke && (floor === null || o.value > floor.value)) floor = o;
        if (floor !== null && r.value < floor.value) {
          add("read-too-low", key, `${show(r)} is below ${show(floor)}, which completed before it began`);
        }
        const ceiling = notFailed.filter((o) => o.invoke < r.complete).length;
        if (r.value > ceiling) {
          add("read-too-high", key, `${show(r)} exceeds the ${ceiling} incrs (not failed) invoked before it completed`);
        }
      }
    }
  }
  return { valid: errors.length === 0, errors, stats };
}

/** Throws an Error listing the violations (and where the history was saved) if the check failed. */
export function assertLinearizable(history, finals, { save } = {}) {
  const r = checkCounter(history.ops ?? history, finals);
  if (!r.valid) {
    let where = "";
    if (save) {
      try {
        save(JSON.stringify({ finals, ops: history.ops ?? history }, null, 1));
        where = " (history saved)";
      } catch {}
    }
    throw new Error(
      `history is not linearizable${where}:\n` + r.errors.map((e) => `  [${e.kind}] ${e.key}: ${e.message}`).join("\n") +
        `\nstats: ${JSON.stringify(r.stats)}`,
    );
  }
  return r;
}
