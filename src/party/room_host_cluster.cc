// RoomHost's side of cluster mode: what happens to rooms when an asynchronous (PostgreSQL) commit
// fails. See party/turn.h for the output gate and storage/postgres_storage.h for the commit.
#include "base/log.h"
#include "party/room_host.h"

namespace partyd::party {

std::vector<std::uint32_t> RoomHost::resetAfterFailedCommit(const std::vector<RoomKey>& fenced,
                                                            const std::vector<RoomKey>& lost) {
  std::vector<std::uint32_t> handles;
  auto reset = [&](const RoomKey& key, bool isFenced) {
    Room* room = rooms_.find(key);
    if (!room) return;
    const std::uint32_t handle = room->handle;
    handles.push_back(handle);
    // Its output held for the failed commit (and later ones) must never leave.
    for (auto& [conn, socket] : room->sockets) socket.conn->discardHeld();
    if (isFenced) {
      log::error("[" + key.party + "/" + key.room +
                 "] its owner changed (fenced): the room is dropped from this node");
      resetRoom(handle, "the room moved to another node", 1012, 503);
      rooms_.erase(handle);
    } else {
      log::error("[" + key.party + "/" + key.room +
                 "] its last writes were not stored: the room is reset");
      resetRoom(handle, "the room's storage commit failed", 1011, 500);
    }
  };
  for (const auto& key : fenced) reset(key, true);
  for (const auto& key : lost) reset(key, false);
  return handles;
}

}  // namespace partyd::party
