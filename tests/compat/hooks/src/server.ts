// Compat corpus, feature 1: the worker hooks (PARTYKIT-API.md §1b, §5a). onBeforeConnect and
// onBeforeRequest (a Response short-circuits, a Request replaces the original, a throw is 401),
// onFetch for non-party paths, onSocket, onCron, and what a lobby carries (id, env, parties).
import type * as Party from "partykit/server";

function gate(req: Party.Request, lobby: Party.Lobby, kind: string) {
  const mode = new URL(req.url).searchParams.get("mode");
  if (mode === "deny") return new Response(`denied ${kind} ${lobby.id}`, { status: 403 });
  if (mode === "throw") throw new Error(`nope ${kind}`);
  if (mode === "rewrite") {
    req.headers.set("x-added", `${kind}:${lobby.id}:${String(lobby.env.WHO)}`);
    return req;
  }
  if (mode === "replace") {
    // A brand-new Request with another URL and method replaces the original.
    const url = new URL(req.url);
    url.searchParams.set("replaced", "1");
    return new Request(url.toString(), {
      method: kind === "request" ? "PUT" : "GET",
      headers: { "x-added": "replaced", upgrade: req.headers.get("upgrade") ?? "" },
      body: kind === "request" ? "new body" : undefined,
    });
  }
  if (mode === "undefined") return undefined as unknown as Party.Request;
  return req;
}

// What a lobby carries, as JSON: `parties` is a map of stubs; `id` is absent outside a room URL.
function describeLobby(lobby: Party.Lobby | Party.FetchLobby) {
  return {
    id: "id" in lobby ? (lobby as Party.Lobby).id : "(absent)",
    env: lobby.env.WHO,
    parties: Object.keys(lobby.parties).sort(),
    hasGet: typeof lobby.parties.other?.get,
  };
}

export default class Hooks implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static async onBeforeConnect(req: Party.Request, lobby: Party.Lobby) {
    return gate(req, lobby, "connect");
  }

  static async onBeforeRequest(req: Party.Request, lobby: Party.Lobby) {
    const mode = new URL(req.url).searchParams.get("mode");
    if (mode === "lobby") {
      // The lobby's stubs reach a party from the edge.
      const res = await lobby.parties.other.get("from-lobby").fetch("/ping");
      return Response.json({ ...describeLobby(lobby), other: await res.text() });
    }
    return gate(req, lobby, "request");
  }

  static onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const url = new URL(req.url);
    if (url.pathname === "/custom") {
      return new Response(`custom ${req.method} ${url.search} ${String(lobby.env.WHO)}`);
    }
    if (url.pathname === "/lobby") return Response.json(describeLobby(lobby));
    if (url.pathname === "/post-only" && req.method === "POST") {
      return new Response(`onFetch got ${req.method}`, { status: 202 });
    }
    return null;
  }

  static onSocket(socket: Party.FetchSocket, lobby: Party.FetchLobby) {
    socket.send(`socket ${new URL(socket.request.url).pathname} ${String(lobby.env.WHO)}`);
    socket.addEventListener("message", (e) => socket.send(`socket-echo:${e.data}`));
  }

  static async onCron(cron: Party.Cron, lobby: Party.CronLobby) {
    // One log room per cron name, so the schedule's own runs do not mix with the triggered ones.
    await lobby.parties.main.get(`cron-${cron.name}`).fetch("/", {
      method: "POST",
      body: `${cron.name} ${cron.cron} ${typeof cron.scheduledTime} ${String(lobby.env.WHO)}`,
    });
  }

  cronRuns: string[] = [];

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    conn.send(
      JSON.stringify({ id: conn.id, added: ctx.request.headers.get("x-added"), url: ctx.request.url }),
    );
  }

  async onRequest(req: Party.Request) {
    if (this.room.id.startsWith("cron-")) {
      if (req.method === "POST") this.cronRuns.push(await req.text());
      return Response.json(this.cronRuns);
    }
    return Response.json({
      added: req.headers.get("x-added"),
      url: req.url,
      method: req.method,
      body: req.method === "GET" || req.method === "HEAD" ? null : await req.text(),
    });
  }
}
