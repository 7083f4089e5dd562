// The storage variant of the bench party (W2 with storage, W7 soak).
//   onStart:   reads the 1 KB "state" key, so that activation includes one storage read.
//   onConnect: sends "hi" (as in bench/party).
//   onMessage: "echo…" goes back to the sender; anything else is first written with
//              `await storage.put`, then broadcast: the broadcast is sent only once the put is
//              acknowledged, so it doubles as the put → ack signal for the sender (W7). Keys go
//              round a ring of KEYS per room, so that a soak's storage stops growing once every
//              room has had KEYS messages (16 s at W7's default 1 message/s per room, inside its
//              warm-up) and its RSS drift shows leaks, not data.
//   onRequest: "ok"; with ?seed=1 it writes the 1 KB "state" key that onStart reads.
import { makeState } from "../../party/src/server.js";

const KEYS = 16;

export default class StorageBenchServer {
  constructor(room) {
    this.room = room;
    this.state = null;
    this.seq = 0;
  }

  async onStart() {
    this.state = (await this.room.storage.get("state")) ?? null;
  }

  onConnect(connection) {
    connection.send("hi");
  }

  async onMessage(message, sender) {
    if (typeof message === "string" && message.startsWith("echo")) {
      sender.send(message);
      return;
    }
    this.seq = (this.seq + 1) % KEYS;
    await this.room.storage.put(`m:${String(this.seq).padStart(2, "0")}`, message);
    this.room.broadcast(message);
  }

  async onRequest(request) {
    if (new URL(request.url).searchParams.get("seed") === "1") {
      this.state = makeState(this.room.id);
      await this.room.storage.put("state", this.state);
    }
    return new Response("ok");
  }
}
