// The `scheduler` global of workerd: scheduler.wait(ms, { signal }) resolves after `ms`
// milliseconds, like `await new Promise((r) => setTimeout(r, ms))`, and rejects with the
// signal's reason when it aborts first.
import { clearTimeout, setTimeout } from "./timers.js";
import { defineToStringTag, makeEnumerable, requireArgs } from "./util.js";

export class Scheduler {
  wait(delay, options = undefined) {
    requireArgs(arguments.length, 1, "scheduler.wait");
    const ms = Number(delay);
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(undefined);
      }, Number.isFinite(ms) && ms > 0 ? ms : 0);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
defineToStringTag(Scheduler);
makeEnumerable(Scheduler, ["wait"]);
