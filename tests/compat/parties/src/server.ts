// Compat corpus, feature 2: many parties (PARTYKIT-API.md §2 "Stubs", §10.14). The main party
// calls the others through room.context.parties.<name>.get(id): fetch(path, init), fetch(init),
// fetch(), socket(), socket(path) and the deprecated connect(). GET /parties/main/<room>/<case>
// runs one case and answers what it saw.
import type * as Party from "partykit/server";

// The first message of a socket, then a reply to one message sent on it.
async function converse(ws: WebSocket): Promise<string[]> {
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout, got ${JSON.stringify(got)}`)), 4000);
    ws.addEventListener("message", (e) => {
      got.push(String(e.data));
      if (got.length === 1) ws.send("ping");
      if (got.length === 2) {
        clearTimeout(timer);
        resolve();
      }
    });
    ws.addEventListener("error", () => reject(new Error("socket error")));
  });
  ws.close();
  return got;
}

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}

  async onRequest(req: Party.Request) {
    const which = new URL(req.url).pathname.split("/")[4] ?? "";
    const parties = this.room.context.parties;
    const text = async (res: Response) => `${res.status} ${await res.text()}`;
    try {
      switch (which) {
        case "keys":
          return Response.json({
            context: Object.keys(parties).sort(),
            deprecated: Object.keys(this.room.parties).sort(),
          });
        case "fetch-path":
          return new Response(
            await text(await parties.counter.get("x").fetch("/hello?q=1", { method: "POST", body: "hi" })),
          );
        case "fetch-init":
          return new Response(
            await text(await parties.counter.get("x").fetch({ method: "PUT", body: "init only" })),
          );
        case "fetch-none":
          return new Response(await text(await parties.counter.get("y").fetch()));
        case "fetch-twice": {
          const stub = parties.counter.get("twice");
          await stub.fetch("/a");
          const second = await stub.fetch("/b");
          const elsewhere = await parties.counter.get("twice-other").fetch("/c");
          return new Response(`${await second.text()} | ${await elsewhere.text()}`);
        }
        case "bad-path":
          await parties.counter.get("x").fetch("hello");
          return new Response("no error");
        case "unknown-party":
          return Response.json({ type: typeof (parties as Record<string, unknown>).nope });
        case "socket":
          return Response.json(await converse(await parties.echo.get("s1").socket()));
        case "socket-path":
          return Response.json(await converse(await parties.echo.get("s2").socket("/sub?x=1")));
        case "connect": {
          const ws = parties.echo.get("s3").connect();
          return Response.json({ isWebSocket: ws instanceof WebSocket, got: await converse(ws) });
        }
      }
      return new Response(`no case ${which}`, { status: 404 });
    } catch (e) {
      return new Response(`error: ${(e as Error).message}`);
    }
  }
}
