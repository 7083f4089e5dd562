// Compat corpus, feature "edge" (issue 13, items 2-6): the main party is the target of the
// router party's onBeforeConnect (a party stub's fetch of a WebSocket upgrade) and of the static
// onFetch for WebSocket upgrades outside /parties; its onRequest shows request.cf.
import type * as Party from "partykit/server";

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    conn.send(JSON.stringify({
      party: this.room.name,
      room: this.room.id,
      uri: conn.uri,
      requestUrl: ctx.request.url,
      hasUpgrade: ctx.request.headers.get("upgrade"),
      via: ctx.request.headers.get("x-via"),
    }));
  }

  onMessage(message: string, sender: Party.Connection) {
    sender.send(`echo ${message}`);
  }

  onRequest(req: Party.Request) {
    const cf = (req as unknown as { cf?: Record<string, unknown> }).cf;
    return Response.json({ room: this.room.id, upgrade: req.headers.get("upgrade"), cf: cf ?? null });
  }

  // WebSocket upgrades on paths outside /parties: /fetch-ws/<room> goes to that main room.
  static onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const url = new URL(req.url);
    const m = /^\/fetch-ws\/([^/]+)$/.exec(url.pathname);
    if (m) return lobby.parties.main.get(m[1]).fetch(req);
    if (url.pathname === "/cf") return Response.json({ cf: (req as unknown as { cf?: unknown }).cf ?? null });
    return null;
  }
}
