// The bench party: the room logic every server under test runs (partyd, `partykit dev`, and by
// hand in bench/node-ws and bench/floor). Keep the four in step when this changes.
//   onConnect: sends "hi", so a client can time connect → first frame.
//   onMessage: a text frame starting with "echo" goes back to its sender; anything else is
//              broadcast to the whole room, sender included.
//   onRequest: answers "ok". With ?state=1 the room first keeps a 1 KB state object (W5).

// makeState returns about 1 KB of strings unique to this room, so that no engine can share them.
export function makeState(roomId) {
  const items = [];
  for (let i = 0; i < 16; i++) items.push(`${roomId}:${i}:`.padEnd(64, "x"));
  return { roomId, items };
}

export default class BenchServer {
  constructor(room) {
    this.room = room;
    this.state = null;
  }

  onConnect(connection) {
    connection.send("hi");
  }

  onMessage(message, sender) {
    if (typeof message === "string" && message.startsWith("echo")) {
      sender.send(message);
      return;
    }
    this.room.broadcast(message);
  }

  onRequest(request) {
    if (this.state === null && new URL(request.url).searchParams.get("state") === "1") {
      this.state = makeState(this.room.id);
    }
    return new Response("ok");
  }
}
