// A router party: its onBeforeConnect hands every socket to a main room through a party stub
// (`lobby.parties.main.get(id).fetch(req)`), as a project that shards its sockets does.
import type * as Party from "partykit/server";

export default class Router implements Party.Server {
  constructor(readonly room: Party.Room) {}
  static onBeforeConnect(req: Party.Request, lobby: Party.Lobby) {
    req.headers.set("x-via", `router:${lobby.id}`);
    return lobby.parties.main.get(`${lobby.id}-shard`).fetch(req);
  }
  onConnect(conn: Party.Connection) {
    conn.send("router itself: should not happen");
  }
}
