// A party whose constructor throws (room "ok-*" constructs fine; "code-*" throws with a .code).
import type * as Party from "partykit/server";

export default class Broken implements Party.Server {
  constructor(readonly room: Party.Room) {
    if (room.id.startsWith("code-")) {
      throw Object.assign(new Error(`teapot in ${room.id}`), { code: 418 });
    }
    if (!room.id.startsWith("ok-") && !room.id.startsWith("start-")) throw new Error(`constructor failed for ${room.id}`);
  }
  started = 0;
  onStart() {
    // "start-*": the first onStart throws; the event that woke the room gets its message.
    this.started++;
    if (this.room.id.startsWith("start-") && this.started === 1) {
      throw new Error(`onStart failed for ${this.room.id}`);
    }
  }
  onConnect(conn: Party.Connection) {
    conn.send("welcome");
  }
  onRequest() {
    return new Response(`constructed, onStart ran ${this.started}`);
  }
}
