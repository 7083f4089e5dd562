// RoomLimits: the limits every room of a project runs under (docs/limits.md), as the flags of
// `partyd dev` and `partyd serve` set them (cli/ parses them once for both).
#pragma once

#include <cstddef>
#include <cstdint>

#include "party/room_host.h"

namespace partyd::server {

struct RoomLimits {
  std::int64_t idleTimeoutSec = 30;               // --idle-timeout
  std::int64_t handlerTimeoutMs = 2'000;          // --cpu-limit (alias --handler-timeout)
  std::size_t heapLimitMb = 1024;                 // --heap-limit: per shard
  std::size_t maxRoomConnections = 10'000;        // --max-room-connections (0: none)
  double maxMessagesPerSecond = 0;                // --max-messages-per-second (0: none)
  std::size_t maxQueuedBytes = 32 * 1024 * 1024;  // --max-pending-bytes per socket
  std::uint64_t maxRoomStorageBytes = 0;          // --max-room-storage (0: none)
  std::int64_t hibernateAfterMs = 10'000;         // --hibernate-after

  // The room host's share of the limits (the heap limit is the runtime's: heapLimitMb).
  void applyTo(party::HostConfig& host) const {
    host.idleTimeoutMs = idleTimeoutSec * 1000;
    host.handlerBudgetMs = handlerTimeoutMs;
    host.maxRoomConnections = maxRoomConnections;
    host.maxMessagesPerSecond = maxMessagesPerSecond;
    host.wsLimits.maxQueuedBytes = maxQueuedBytes;
    host.maxRoomStorageBytes = maxRoomStorageBytes;
    host.hibernateAfterMs = hibernateAfterMs;
  }
};

}  // namespace partyd::server
