// Compat corpus: `process` in party code. partykit dev injects node:process into every bundle
// (its inject-process.js) and copies the project's .env into process.env, so npm packages that
// read process.env.NODE_ENV (React and friends) load. GET /parties/main/<room> answers what the
// modules saw at load time and what the room sees now.
import type * as Party from "partykit/server";
import nodeProcess from "node:process";
import { atLoad } from "./lib/top_level.js";
// @ts-ignore -- CommonJS without types
import reactLike from "./lib/react_like.cjs";

export default class Server implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onRequest() {
    const env = process.env as Record<string, string | undefined>;
    return Response.json({
      atLoad,
      reactLike: { build: reactLike.build },
      typeofProcess: typeof process,
      sameAsImport: process === nodeProcess || process.env === nodeProcess.env,
      typeofNextTick: typeof process.nextTick,
      dotenvNow: env.FROM_DOTENV ?? null,
      roomEnv: { dotenv: this.room.env.FROM_DOTENV ?? null, vars: this.room.env.FROM_VARS ?? null },
    });
  }
}
