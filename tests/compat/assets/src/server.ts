// Compat corpus, feature 5: static assets. `serve` (path, build, singlePageApp) is served by the
// dev server; the party reads assets through room.context.assets and the worker hooks through
// lobby.assets.
import type * as Party from "partykit/server";

async function describe(res: Response | null) {
  return res ? { status: res.status, text: await res.text() } : null;
}

export default class Assets implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static async onFetch(req: Party.Request, lobby: Party.FetchLobby) {
    const url = new URL(req.url);
    if (url.pathname === "/via-lobby") {
      return Response.json({
        hit: await describe(await lobby.assets.fetch("/a.txt")),
        miss: await describe(await lobby.assets.fetch("/nope.txt")),
      });
    }
    return null;
  }

  static async onBeforeRequest(req: Party.Request, lobby: Party.Lobby) {
    if (new URL(req.url).pathname.endsWith("/lobby-assets")) {
      return Response.json({ index: await describe(await lobby.assets.fetch("/sub/")) });
    }
    return req;
  }

  async onRequest() {
    const assets = this.room.context.assets;
    let badPath = "no error";
    try {
      await assets.fetch("a.txt");
    } catch (e) {
      badPath = (e as Error).message;
    }
    return Response.json({
      hit: await describe(await assets.fetch("/a.txt")),
      json: await describe(await assets.fetch("/data.json")),
      built: (await (await assets.fetch("/dist/client.js"))?.text())?.includes("built by serve.build") ?? null,
      miss: await describe(await assets.fetch("/missing.txt")),
      badPath,
    });
  }
}
