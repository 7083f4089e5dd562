// Compat corpus, feature 7: the dev loop. The answer comes from an imported module, so a change
// to a dependency, not just to the entry, must trigger a rebuild.
import type * as Party from "partykit/server";
import { message } from "./message";

export default class DevLoop implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onConnect(conn: Party.Connection) {
    conn.send(message);
  }

  onRequest() {
    return new Response(message);
  }
}
