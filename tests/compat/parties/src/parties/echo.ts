// The `echo` party (declared in `parties` with a path in a subfolder): greets each socket with
// its room, id, URL and whether the edge's onBeforeConnect ran, then echoes messages.
import type * as Party from "partykit/server";

export default class Echo implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static onBeforeConnect(req: Party.Request) {
    req.headers.set("x-edge", "yes");
    return req;
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    conn.send(
      JSON.stringify({
        party: this.room.name,
        room: this.room.id,
        id: conn.id,
        url: ctx.request.url,
        edge: ctx.request.headers.get("x-edge"),
      }),
    );
  }

  onMessage(message: string | ArrayBuffer, sender: Party.Connection) {
    sender.send(`echo:${typeof message === "string" ? message : "binary"}`);
  }
}
