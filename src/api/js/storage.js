// room.storage: the Durable Object storage API over partyd's storage natives. The natives are
// synchronous (SQLite on the shard's thread, writes held in the turn's open transaction), so a
// storage await resolves within the same turn: no other event can reach the room meanwhile,
// which is the input gate. Transactions keep their writes in an overlay until the closure
// settles, then apply them at once.

const DELETED = Symbol("deleted");

// UTF-8 byte order is code point order; JS's default sort is UTF-16 order, which differs above
// U+FFFF.
export function compareKeys(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function checkListOptions(o) {
  if (o.start !== undefined && o.startAfter !== undefined) {
    throw new TypeError("list() cannot be called with both start and startAfter values.");
  }
  if (o.limit !== undefined && !(o.limit > 0)) throw new TypeError("List limit must be positive.");
}

function toTime(scheduledTime) {
  const t = scheduledTime instanceof Date ? scheduledTime.getTime() : scheduledTime;
  if (typeof t !== "number" || !Number.isFinite(t)) {
    throw new TypeError("setAlarm() requires a Date or a number of milliseconds since the epoch");
  }
  return t;
}

export class Storage {
  #native;
  #room;
  #onAlarmSet;
  constructor(native, roomHandle, onAlarmSet) {
    this.#native = native;
    this.#room = roomHandle;
    this.#onAlarmSet = onAlarmSet;
  }

  async get(keys, options) {
    if (Array.isArray(keys)) return new Map(this.#native.sGetMany(this.#room, keys));
    return this.#native.sGet(this.#room, keys);
  }
  async put(keyOrEntries, value, options) {
    if (typeof keyOrEntries === "object" && keyOrEntries !== null) {
      this.#native.sPutMany(this.#room, Object.entries(keyOrEntries));
      return;
    }
    if (value === undefined) throw new TypeError("put() called with undefined value.");
    this.#native.sPut(this.#room, keyOrEntries, value);
  }
  async delete(keys, options) {
    if (Array.isArray(keys)) return this.#native.sDeleteMany(this.#room, keys);
    return this.#native.sDelete(this.#room, keys);
  }
  async deleteAll(options) {
    this.#native.sDeleteAll(this.#room);
  }
  async list(options = {}) {
    checkListOptions(options);
    return new Map(this.#listEntries(options));
  }
  #listEntries(o) {
    return this.#native.sList(this.#room, o.start, o.startAfter, o.end, o.prefix, !!o.reverse,
                              o.limit ?? 0);
  }
  async getAlarm(options) {
    return this.#native.sGetAlarm(this.#room);
  }
  async setAlarm(scheduledTime, options) {
    this.#native.sSetAlarm(this.#room, toTime(scheduledTime));
  }
  async deleteAlarm(options) {
    this.#native.sDeleteAlarm(this.#room);
  }
  async sync() {}

  async transaction(closure) {
    const txn = new Transaction(this, this.#native, this.#room);
    const result = await closure(txn);
    txn._commit();
    return result;
  }
  transactionSync(closure) {
    throw new TypeError("storage.transactionSync() is only for SQLite-backed Durable Objects, " +
                        "which PartyKit does not use");
  }
  // Used by Transaction.list: raw entries without the Map.
  _list(o) {
    return this.#listEntries(o);
  }
}

class Transaction {
  #storage;
  #native;
  #room;
  #overlay = new Map();
  #rolledBack = false;
  #done = false;
  constructor(storage, native, room) {
    this.#storage = storage;
    this.#native = native;
    this.#room = room;
  }
  #check() {
    if (this.#done) throw new Error("This transaction has already completed.");
  }
  #read(key) {
    if (this.#overlay.has(key)) {
      const v = this.#overlay.get(key);
      return v === DELETED ? undefined : structuredClone(v);
    }
    return this.#native.sGet(this.#room, key);
  }
  async get(keys) {
    this.#check();
    if (!Array.isArray(keys)) return this.#read(keys);
    const out = [];
    for (const k of [...keys].sort(compareKeys)) {
      const v = this.#read(k);
      if (v !== undefined) out.push([k, v]);
    }
    return new Map(out);
  }
  async put(keyOrEntries, value) {
    this.#check();
    if (typeof keyOrEntries === "object" && keyOrEntries !== null) {
      for (const [k, v] of Object.entries(keyOrEntries)) await this.put(k, v);
      return;
    }
    if (value === undefined) throw new TypeError("put() called with undefined value.");
    if (typeof keyOrEntries !== "string") throw new TypeError("Keys must be strings.");
    this.#overlay.set(keyOrEntries, structuredClone(value));
  }
  async delete(keys) {
    this.#check();
    if (Array.isArray(keys)) {
      let n = 0;
      for (const k of keys) if (await this.delete(k)) n++;
      return n;
    }
    const existed = this.#read(keys) !== undefined;
    this.#overlay.set(keys, DELETED);
    return existed;
  }
  async list(o = {}) {
    this.#check();
    checkListOptions(o);
    const deletes = [...this.#overlay.values()].filter((v) => v === DELETED).length;
    const base = this.#storage._list({
      ...o,
      limit: o.limit === undefined ? undefined : o.limit + deletes,
    });
    const merged = new Map(base);
    for (const [k, v] of this.#overlay) {
      if (!inRange(k, o)) continue;
      if (v === DELETED) merged.delete(k);
      else merged.set(k, structuredClone(v));
    }
    let keys = [...merged.keys()].sort(compareKeys);
    if (o.reverse) keys.reverse();
    if (o.limit !== undefined) keys = keys.slice(0, o.limit);
    return new Map(keys.map((k) => [k, merged.get(k)]));
  }
  rollback() {
    this.#check();
    this.#rolledBack = true;
  }
  getAlarm(o) {
    return this.#storage.getAlarm(o);
  }
  setAlarm(t, o) {
    return this.#storage.setAlarm(t, o);
  }
  deleteAlarm(o) {
    return this.#storage.deleteAlarm(o);
  }
  _commit() {
    this.#done = true;
    if (this.#rolledBack) return;
    const puts = [];
    const dels = [];
    for (const [k, v] of this.#overlay) (v === DELETED ? dels : puts).push([k, v]);
    for (let i = 0; i < dels.length; i += 128) {
      this.#native.sDeleteMany(this.#room, dels.slice(i, i + 128).map((e) => e[0]));
    }
    for (let i = 0; i < puts.length; i += 128) this.#native.sPutMany(this.#room, puts.slice(i, i + 128));
  }
}

function inRange(k, o) {
  if (o.prefix !== undefined && !k.startsWith(o.prefix)) return false;
  if (o.start !== undefined && compareKeys(k, o.start) < 0) return false;
  if (o.startAfter !== undefined && compareKeys(k, o.startAfter) <= 0) return false;
  if (o.end !== undefined && compareKeys(k, o.end) >= 0) return false;
  return true;
}
