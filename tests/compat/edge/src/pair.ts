// onBeforeConnect answers with a WebSocketPair: the server end is accepted and closed with 1011
// and a reason, and the client end goes back in a 101 Response.
import type * as Party from "partykit/server";

export default class Pair implements Party.Server {
  constructor(readonly room: Party.Room) {}
  static onBeforeConnect(req: Party.Request, lobby: Party.Lobby) {
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair);
    server.accept();
    if (lobby.id.startsWith("hello-")) server.send(`hello from ${lobby.id}`);
    server.close(1011, `refused ${lobby.id}`);
    return new Response(null, { status: 101, webSocket: client });
  }
  onConnect(conn: Party.Connection) {
    conn.send("pair room itself: should not happen");
  }
}
