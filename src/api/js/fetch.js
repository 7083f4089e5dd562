// The global fetch(): outbound HTTP and HTTPS through the shard's native client (Boost.Beast and
// OpenSSL), asynchronous, with redirects, timeouts and AbortSignal. Party URLs of this same
// server are ordinary HTTP here, as they are on PartyKit.
import { makeResponse } from "./web/index.js";

export function createFetch(native) {
  const pending = new Map();

  async function fetch(input, init) {
    const req = new Request(input, init);
    const signal = req.signal;
    if (signal?.aborted) throw signal.reason;
    const url = new URL(req.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`fetch() of ${url.protocol} URLs is not supported (only http: and https:)`);
    }
    const body = req.body === null ? null : new Uint8Array(await req.arrayBuffer());
    return new Promise((resolve, reject) => {
      const id = native.fetch(req.method, req.url, [...req.headers], body, req.redirect);
      const onAbort = () => native.fetchAbort(id);
      pending.set(id, { resolve, reject, signal, onAbort });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  function settle(id) {
    const p = pending.get(id);
    if (!p) return undefined;
    pending.delete(id);
    p.signal?.removeEventListener("abort", p.onAbort);
    return p;
  }

  return {
    fetch,
    fetchResolved(id, status, statusText, headers, body, url, redirected) {
      const p = settle(id);
      if (!p) return;
      const nullBody = status === 101 || status === 204 || status === 205 || status === 304;
      p.resolve(makeResponse(status, statusText, headers, nullBody ? null : body,
                             { url, redirected, type: "basic", immutableHeaders: true }));
    },
    fetchRejected(id, message) {
      const p = settle(id);
      if (!p) return;
      if (message === "The operation was aborted" && p.signal?.aborted) p.reject(p.signal.reason);
      else p.reject(new TypeError(message));
    },
  };
}
