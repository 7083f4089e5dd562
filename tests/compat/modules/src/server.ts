// Compat corpus, feature 4: modules and configuration. An npm dependency (yjs) and a CommonJS
// file are bundled; a .wasm import is a WebAssembly.Module that instantiates; JSON and text
// imports; Node built-ins (partykit dev always runs with nodejs_compat); `define` (including
// process.env.X), `.env`, and `vars` reaching room.env and lobby.env.
// GET /parties/main/<room>/<case> answers one case as JSON.
import { AsyncLocalStorage } from "node:async_hooks";
import { Buffer } from "node:buffer";
import * as nodeCrypto from "node:crypto";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import type * as Party from "partykit/server";
import * as Y from "yjs";
import legacy from "./legacy.cjs";
import addModule from "./add.wasm";
import data, { list } from "./data.json";
import hello from "./hello.txt";

// The value of f(), or the error it threw as "Name: message".
function attempt(f: () => unknown) {
  try {
    return f();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

declare const BUILD_FLAVOR: string;
declare const PARTYKIT_HOST: string;

export default class Modules implements Party.Server {
  constructor(readonly room: Party.Room) {}

  static onBeforeRequest(req: Party.Request, lobby: Party.Lobby) {
    if (new URL(req.url).pathname.endsWith("/lobby-env")) {
      return Response.json({ PLAIN: lobby.env.PLAIN, OBJ: lobby.env.OBJ, NUM: lobby.env.NUM, FROM_DOTENV: lobby.env.FROM_DOTENV });
    }
    return req;
  }

  async onRequest(req: Party.Request) {
    const which = new URL(req.url).pathname.split("/")[4] ?? "";
    switch (which) {
      case "npm": {
        const doc = new Y.Doc();
        const text = doc.getText("t");
        text.insert(0, "world");
        text.insert(0, "hello ");
        const copy = new Y.Doc();
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
        return Response.json({ text: text.toString(), copied: copy.getText("t").toString(), cjs: legacy.greet("room") });
      }
      case "wasm": {
        const isModule = addModule instanceof WebAssembly.Module;
        const instance = await WebAssembly.instantiate(addModule);
        const exports = WebAssembly.Module.exports(addModule).map((e) => `${e.kind}:${e.name}`);
        return Response.json({
          isModule,
          isInstance: instance instanceof WebAssembly.Instance,
          sum: (instance.exports.add as (a: number, b: number) => number)(2, 3),
          exports,
        });
      }
      case "node":
        return Response.json({
          buffer: attempt(() => Buffer.from("hi").toString("base64")),
          events: attempt(() => {
            const emitter = new EventEmitter();
            const got: unknown[] = [];
            emitter.on("a", (x) => got.push(x));
            emitter.emit("a", 1);
            return got;
          }),
          asyncLocalStorage: attempt(() => {
            const als = new AsyncLocalStorage<number>();
            return als.run(5, () => als.getStore());
          }),
          createHash: attempt(() => nodeCrypto.createHash("sha256").update("abc").digest("hex")),
          fs: attempt(() => fs.readFileSync("/etc/hostname", "utf8")),
        });
      case "imports":
        return Response.json({ data, list, text: hello });
      case "define":
        return Response.json({
          flavor: BUILD_FLAVOR,
          defined: process.env.DEFINED_VAR,
          dotenv: process.env.FROM_DOTENV,
          host: PARTYKIT_HOST,
        });
      case "env":
        return Response.json({
          PLAIN: this.room.env.PLAIN,
          OBJ: this.room.env.OBJ,
          NUM: this.room.env.NUM,
          FROM_DOTENV: this.room.env.FROM_DOTENV,
        });
    }
    return new Response(`no case ${which}`, { status: 404 });
  }
}
