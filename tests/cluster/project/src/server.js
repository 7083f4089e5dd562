// The counter party of the cluster tests (tests/cluster). One instance per room, whichever node a
// client reaches. The count lives in room.storage (loaded in onStart, so a room that moves to
// another node continues from what was committed there).
//   POST /parties/main/<room>[?mark=M][&delay=MS]
//                                       incr; answers {value, instance}; with mark, also stores
//                                       "mark:M" = value in the same commit; with delay, waits MS
//                                       in the room (a timer) before it increments
//   GET  /parties/main/<room>           {value, instance}; ?marks=1 adds the stored marks
//   WebSocket: on connect {type:"state", value, instance}; message "incr" or {"incr":id} ->
//              {type:"ack", id, value, instance} to the sender and {type:"count", value, instance}
//              to every connection. A WebSocket with ?gated=1 is refused (403) by onBeforeConnect:
//              only partyd's own stub sockets get past it (tests/cluster/stubs.test.mjs).
export default class Counter {
  static onBeforeConnect(request) {
    if (new URL(request.url).searchParams.get("gated")) {
      return new Response("gated: only a party stub's socket gets in", { status: 403 });
    }
    return request;
  }

  constructor(room) {
    this.room = room;
    this.instance = crypto.randomUUID();
    this.count = 0;
  }

  async onStart() {
    this.count = (await this.room.storage.get("count")) ?? 0;
  }

  incr(mark) {
    this.count += 1;
    const value = this.count;
    const entries = { count: value };
    if (mark) entries[`mark:${mark}`] = value;
    this.room.storage.put(entries);
    this.room.broadcast(JSON.stringify({ type: "count", value, instance: this.instance }));
    return value;
  }

  onConnect(conn) {
    conn.send(JSON.stringify({ type: "state", value: this.count, instance: this.instance }));
  }

  onMessage(message, sender) {
    let id = null;
    if (message !== "incr") {
      try {
        id = JSON.parse(message).incr ?? null;
      } catch {
        return;
      }
      if (id === null) return;
    }
    const value = this.incr(null);
    sender.send(JSON.stringify({ type: "ack", id, value, instance: this.instance }));
  }

  async onRequest(request) {
    const url = new URL(request.url);
    if (request.method === "POST") {
      const delay = Number(url.searchParams.get("delay") ?? 0);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const value = this.incr(url.searchParams.get("mark"));
      return Response.json({ value, instance: this.instance });
    }
    const body = { value: this.count, instance: this.instance };
    if (url.searchParams.get("marks")) {
      const marks = await this.room.storage.list({ prefix: "mark:" });
      body.marks = Object.fromEntries([...marks].map(([k, v]) => [k.slice(5), v]));
    }
    return Response.json(body);
  }
}
