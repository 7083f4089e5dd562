// Compat corpus: top-level await in party code (issue 13, item 8).
import type * as Party from "partykit/server";
import { loaded } from "./config";

const mainSteps = await Promise.all([Promise.resolve(1), Promise.resolve(2)]);

export default class Main implements Party.Server {
  constructor(readonly room: Party.Room) {}
  onRequest() {
    return Response.json({ loaded, mainSteps });
  }
}
