#include "server/drain.h"

#include <vector>

#include "party/edge.h"
#include "party/room_host.h"
#include "server/deployments.h"
#include "server/shard_pool.h"

namespace partyd::server {

namespace {

void drainHost(party::RoomHost& host, bool force, DrainClose close, DrainLeft* left) {
  std::vector<std::uint32_t> closing;
  host.forEachRoom([&](party::Room& room) {
    bool inFlight = room.busy > 0 || !room.held.empty();
    if (room.sockets.empty() && !inFlight) return;
    if (inFlight) {
      ++left->busy;
      left->sockets += room.sockets.size();
    }
    if (force || !inFlight) closing.push_back(room.handle);
  });
  // In-flight requests of a forced room get 503; the sockets 1001 (1012).
  for (std::uint32_t handle : closing) host.resetRoom(handle, close.reason, close.code, 503);
  if (!closing.empty()) host.turn().commitAndFlush();
}

}  // namespace

DrainLeft drainPass(ShardPool& pool, Deployments& deployments, bool force, DrainClose close) {
  // The same list the admin listener's /metrics reads; each holds its Edge table alive.
  std::vector<ObservedProject> projects = deployments.observed();
  std::vector<DrainLeft> perShard(pool.size());
  (void)pool.onEach([&](std::size_t i) -> Result<void> {
    for (const auto& project : projects) {
      if (party::Edge* edge = project.edges->local(i))
        drainHost(edge->host(), force, close, &perShard[i]);
    }
    return {};
  });
  DrainLeft total;
  for (const auto& l : perShard) {
    total.sockets += l.sockets;
    total.busy += l.busy;
  }
  return total;
}

// Deployments' half for the drain, here so that deployments.cc stays as it is.
void Deployments::closeTails() {
  std::shared_lock lock(mutex_);
  for (const auto& e : entries_) {
    if (e->hub) e->hub->closeAll(1001, DrainClose{}.reason);
  }
}

}  // namespace partyd::server
