// Storage bench party. POST /put?key=K writes a 100-byte value and answers once the write is
// acknowledged (durable on partyd: the response waits for the commit). GET /gets?n=N reads one
// key N times in a loop inside the room and answers the mean time per get in microseconds, so
// the HTTP round trip does not count.
const VALUE = "x".repeat(100);

export default class KvBench {
  constructor(room) {
    this.room = room;
  }

  async onRequest(req) {
    const url = new URL(req.url);
    if (url.pathname.endsWith("/put")) {
      await this.room.storage.put(url.searchParams.get("key") ?? "k", VALUE);
      return new Response("ok");
    }
    if (url.pathname.endsWith("/gets")) {
      const n = Number(url.searchParams.get("n") ?? "1000");
      await this.room.storage.put("hot", VALUE);
      const t0 = Date.now();
      let found = 0;
      for (let i = 0; i < n; i++) {
        if ((await this.room.storage.get("hot")) !== undefined) found++;
      }
      const us = ((Date.now() - t0) * 1000) / n;
      return Response.json({ n, found, us_per_get: us });
    }
    return new Response("not found", { status: 404 });
  }
}
