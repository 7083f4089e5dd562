// The relay party of the cluster tests (tests/cluster/stubs.test.mjs): it reaches rooms of the
// counter party ("main") through party stubs, which in a cluster may live on another node.
//   GET /parties/relay/<r>?socket=T[&gated=1]
//       opens room.context.parties.main.get(T).socket() (with /stub?gated=1 as its path, which main's
//       onBeforeConnect refuses: a stub must get past it, as on PartyKit), waits for the room's
//       state, sends {"incr":"relay"} and waits for the ack; answers {state, ack}
//   GET /parties/relay/<r>?fetch=T
//       POSTs to main/T through the stub's fetch(); answers what the counter answered
//   WebSocket /parties/relay/<r>?to=T
//       onBeforeConnect passes the upgrade to main/T's fetch(): the client's socket ends up in
//       that room (a router party that shards sockets)
function nextMessage(ws, pred, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message from the stub's socket")), ms);
    ws.addEventListener("message", function on(e) {
      const m = JSON.parse(e.data);
      if (!pred(m)) return;
      clearTimeout(timer);
      ws.removeEventListener("message", on);
      resolve(m);
    });
  });
}

export default class Relay {
  static async onBeforeConnect(request, lobby) {
    const to = new URL(request.url).searchParams.get("to");
    if (to) return lobby.parties.main.get(to).fetch(request);
    return request;
  }

  constructor(room) {
    this.room = room;
  }

  async onRequest(request) {
    const url = new URL(request.url);
    const main = this.room.context.parties.main;
    const target = url.searchParams.get("socket");
    if (target) {
      const path = url.searchParams.get("gated") ? "/stub?gated=1" : "";
      let ws;
      try {
        ws = await main.get(target).socket(path);
      } catch (e) {
        return Response.json({ error: String(e?.message ?? e) }, { status: 502 });
      }
      try {
        const state = nextMessage(ws, (m) => m.type === "state");
        const s = await state;
        const ack = nextMessage(ws, (m) => m.type === "ack" && m.id === "relay");
        ws.send(JSON.stringify({ incr: "relay" }));
        return Response.json({ state: s, ack: await ack });
      } catch (e) {
        return Response.json({ error: String(e?.message ?? e) }, { status: 504 });
      } finally {
        ws.close();
      }
    }
    const fetched = url.searchParams.get("fetch");
    if (fetched) {
      const res = await main.get(fetched).fetch({ method: "POST" });
      return new Response(await res.text(), { status: res.status, headers: res.headers });
    }
    return Response.json({ relay: this.room.id });
  }
}
