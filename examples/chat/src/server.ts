// A small chat room: every message goes to everyone in the room, the last 100 are kept in room
// storage, and a newcomer gets them on connect. Runs unchanged on `partykit dev` and partyd.
import type * as Party from "partykit/server";

type ChatMessage = { from: string; text: string; at: number };

export default class Chat implements Party.Server {
  history: ChatMessage[] = [];

  constructor(readonly room: Party.Room) {}

  async onStart() {
    this.history = (await this.room.storage.get<ChatMessage[]>("history")) ?? [];
  }

  onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
    const name = new URL(ctx.request.url).searchParams.get("name") ?? conn.id.slice(0, 8);
    conn.setState({ name });
    conn.send(JSON.stringify({ type: "history", messages: this.history }));
    this.room.broadcast(JSON.stringify({ type: "joined", name }), [conn.id]);
  }

  async onMessage(message: string | ArrayBuffer, sender: Party.Connection<{ name: string }>) {
    if (typeof message !== "string") return;
    const text = message.slice(0, 2000);
    const entry = { from: sender.state?.name ?? sender.id, text, at: Date.now() };
    this.history = [...this.history, entry].slice(-100);
    await this.room.storage.put("history", this.history);
    this.room.broadcast(JSON.stringify({ type: "message", ...entry }));
  }

  onClose(conn: Party.Connection<{ name: string }>) {
    this.room.broadcast(JSON.stringify({ type: "left", name: conn.state?.name ?? conn.id }));
  }

  async onRequest(req: Party.Request) {
    if (req.method === "GET") {
      return Response.json({ room: this.room.id, messages: this.history });
    }
    return new Response("Method not allowed", { status: 405 });
  }
}
