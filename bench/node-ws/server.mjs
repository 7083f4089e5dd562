#!/usr/bin/env node
// The Node.js baseline: the bench party's room logic (bench/party/src/server.js) written by hand
// over `ws`, the way someone would without PartyKit. One process, one thread.
//   usage: node bench/node-ws/server.mjs [--port N] [--storage]
//   (prints "Ready on http://0.0.0.0:N")
// Rooms are keyed by the URL path (/parties/:party/:room); a room lives while it has sockets
// or a state object. --storage runs bench/party-storage's logic instead (W7): each broadcast is
// first an awaited put into the room's in-memory Map (keys round a ring of 16), and ?seed=1
// stores the 1 KB state; as with `partykit dev --persist false` and `partyd --no-persist`,
// nothing goes to disk.
import http from "node:http";
import { WebSocketServer } from "ws";

function parsePort(argv) {
  const i = argv.indexOf("--port");
  return i >= 0 ? Number(argv[i + 1]) : 1999;
}

const withStorage = process.argv.includes("--storage");
const KEYS = 16;

// MemoryStorage stands in for room.storage: the same async put/get, kept in a Map.
class MemoryStorage {
  #map = new Map();
  async get(key) {
    return this.#map.get(key);
  }
  async put(key, value) {
    this.#map.set(key, value);
  }
}

// roomKey returns "party/room" for /parties/:party/:room[/...] and /party/:room[/...], else null.
function roomKey(pathname) {
  const parts = pathname.split("/");
  if (parts[1] === "parties" && parts[2] && parts[3]) return `${parts[2]}/${parts[3]}`;
  if (parts[1] === "party" && parts[2]) return `main/${parts[2]}`;
  return null;
}

function makeState(roomId) {
  const items = [];
  for (let i = 0; i < 16; i++) items.push(`${roomId}:${i}:`.padEnd(64, "x"));
  return { roomId, items };
}

const rooms = new Map(); // key → { sockets: Set<WebSocket>, state }

function getRoom(key) {
  let room = rooms.get(key);
  if (!room) {
    room = { sockets: new Set(), state: null, storage: new MemoryStorage(), seq: 0 };
    rooms.set(key, room);
  }
  return room;
}

function dropIfEmpty(key, room) {
  if (room.sockets.size === 0 && room.state === null) rooms.delete(key);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const key = roomKey(url.pathname);
  if (key === null) {
    res.writeHead(404, { "content-type": "text/plain" }).end("Not found");
    return;
  }
  if (url.searchParams.get("state") === "1") {
    const room = getRoom(key);
    if (room.state === null) room.state = makeState(key.split("/")[1]);
  }
  if (withStorage && url.searchParams.get("seed") === "1") {
    const room = getRoom(key);
    room.state = makeState(key.split("/")[1]);
    room.storage.put("state", room.state);
  }
  res.writeHead(200, { "content-type": "text/plain;charset=UTF-8" }).end("ok");
});
server.keepAliveTimeout = 60_000;

const wss = new WebSocketServer({ noServer: true });

// putThenBroadcast is bench/party-storage's onMessage: the broadcast waits for the put.
async function putThenBroadcast(room, data, isBinary) {
  room.seq = (room.seq + 1) % KEYS;
  await room.storage.put(`m:${String(room.seq).padStart(2, "0")}`, data);
  for (const peer of room.sockets) peer.send(data, { binary: isBinary });
}

server.on("upgrade", (req, socket, head) => {
  const key = roomKey(new URL(req.url, "http://localhost").pathname);
  if (key === null) {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const room = getRoom(key);
    room.sockets.add(ws);
    ws.send("hi");
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.length >= 4 && data.toString("latin1", 0, 4) === "echo") {
        ws.send(data, { binary: false });
        return;
      }
        if (withStorage) {
        putThenBroadcast(room, data, isBinary);
        return;
      }
      for (const peer of room.sockets) peer.send(data, { binary: isBinary });
    });
    ws.on("close", () => {
      room.sockets.delete(ws);
      dropIfEmpty(key, room);
    });
    ws.on("error", () => ws.terminate());
  });
});

const port = parsePort(process.argv);
server.listen(port, "0.0.0.0", () => {
  console.log(`Ready on http://0.0.0.0:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
