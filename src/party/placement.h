// Placement answers "where does this room live": today the shard of this process that owns it
// (a hash of party and room id, the same hash that picks the room's SQLite file); in a cluster,
// the node first. Every path that delivers to a room asks here, so there is one answer.
#pragma once

#include <cstddef>

#include "party/room.h"
#include "storage/shard_files.h"

namespace partyd::party {

inline std::size_t shardOf(const RoomKey& key, std::size_t shards) {
  return storage::shardOf(storage::roomHash(key.party, key.room), shards);
}

}  // namespace partyd::party
