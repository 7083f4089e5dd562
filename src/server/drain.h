// The graceful stop of `partyd serve` (SIGTERM, SIGINT; and the old process's side of a takeover,
// server/takeover.h): after the listeners close, each pass closes with 1001 (Going Away; 1012,
// Service Restart, for a takeover) the WebSockets of every room that has nothing in flight (no
// request, connect or alarm), so an event being handled finishes first and its answer goes out;
// a forced pass (the --drain-timeout is up) closes every room's. The projects then stop, which
// commits their storage. Nothing here reaches into a room beyond RoomHost's public methods.
#pragma once

#include <cstddef>
#include <cstdint>

namespace partyd::server {

class ShardPool;
class Deployments;

// How sockets are closed: 1001 for a stop, 1012 for a takeover (partysocket reconnects to both).
struct DrainClose {
  std::uint16_t code = 1001;
  const char* reason = "going away: the server is restarting";
};
inline constexpr DrainClose kTakeoverClose{1012, "service restart: partyd is being upgraded"};

struct DrainLeft {
  // Rooms with a request, connect or alarm in flight (closed anyway by a forced pass), and
  // their WebSockets.
  std::size_t busy = 0;
  std::size_t sockets = 0;
  bool done() const { return sockets == 0 && busy == 0; }
};

// One pass on every shard (blocks until each has run it).
DrainLeft drainPass(ShardPool& pool, Deployments& deployments, bool force, DrainClose close = {});

}  // namespace partyd::server
