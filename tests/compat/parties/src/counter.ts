// The `counter` party: one count per room, so a test can tell rooms and parties apart; it
// reports the request it got (method, URL, body) and whether the edge's onBeforeRequest ran.
import type * as Party from "partykit/server";

export default class Counter implements Party.Server {
  count = 0;

  constructor(readonly room: Party.Room) {}

  static onBeforeRequest(req: Party.Request) {
    req.headers.set("x-edge", "yes");
    return req;
  }

  async onRequest(req: Party.Request) {
    this.count++;
    const body = req.method === "GET" ? "" : await req.text();
    return new Response(
      `${this.room.name}/${this.room.id} #${this.count} ${req.method} ${req.url} ${body} edge=${req.headers.get("x-edge")}`,
    );
  }
}
