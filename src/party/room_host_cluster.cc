// RoomHost's side of cluster mode (docs/cluster.md): a room runs here only while this node owns
// it. server/cluster_node.cc claims a room and loads its storage before the first event reaches
// it (adopt), and takes it away when ownership is lost (disown). An asynchronous (PostgreSQL)
// commit that fails also takes rooms away (resetAfterFailedCommit). See party/turn.h for the output
// gate and storage/postgres_storage.h for the commit.
#include "base/log.h"
#include "party/room_host.h"

namespace partyd::party {

// Both kinds of failed room leave this node: a fenced one belongs to another node now, and a lost
// one (its writes were not stored, or it is unknown whether they were) must be loaded again from
// what PostgreSQL holds, which its next event does by claiming it afresh (roomGone releases it).
std::vector<std::uint32_t> RoomHost::resetAfterFailedCommit(const std::vector<RoomKey>& fenced,
                                                            const std::vector<RoomKey>& lost) {
  std::vector<std::uint32_t> handles;
  auto reset = [&](const RoomKey& key, bool isFenced) {
    alarms_.cancel(key);
    Room* room = rooms_.find(key);
    if (room) {
      const std::uint32_t handle = room->handle;
      handles.push_back(handle);
      // Its output held for the failed commit (and later ones) must never leave.
      for (auto& [conn, socket] : room->sockets) socket.conn->discardHeld();
      if (isFenced) {
        log::error("[" + key.party + "/" + key.room +
                   "] its owner changed (fenced): the room is dropped from this node");
        resetRoom(handle, "the room moved to another node", 1012, 503);
      } else {
        log::error("[" + key.party + "/" + key.room +
                   "] its last writes were not stored: the room is reset");
        resetRoom(handle, "the room's storage commit failed", 1011, 500);
      }
      rooms_.erase(handle);
    }
    if (config_.roomGone) config_.roomGone(key);
  };
  for (const auto& key : fenced) reset(key, true);
  for (const auto& key : lost) reset(key, false);
  armAlarmTimer();
  return handles;
}

void RoomHost::adopt(const RoomKey& key) {
  auto stored = storage_->getAlarm(key);
  if (!stored) {
    log::error("reading the alarm of " + key.party + "/" + key.room + ": " +
               stored.error().message);
    return;
  }
  if (stored->has_value() && !alarms_.timeOf(key)) {
    alarms_.schedule(key, **stored);
    armAlarmTimer();
  }
}

void RoomHost::disown(const RoomKey& key, const std::string& why) {
  alarms_.cancel(key);
  Room* room = rooms_.find(key);
  if (!room) return;
  std::uint32_t handle = room->handle;
  // Its writes not yet committed are dropped with the room (the caller releases its storage), so
  // output that waits for them must never leave as if they were stored.
  for (auto& [conn, socket] : room->sockets) socket.conn->discardHeld();
  turn_.failHeld({handle}, 503, "the room left this node before its writes were stored: " + why);
  resetRoom(handle, why, 1012, 503);
  rooms_.erase(handle);
  armAlarmTimer();
}

std::vector<RoomKey> RoomHost::disownAll(const std::string& why) {
  std::vector<RoomKey> keys;
  rooms_.forEach([&](Room& room) { keys.push_back(room.key); });
  for (const RoomKey& key : alarms_.keys()) {
    if (!rooms_.find(key)) keys.push_back(key);
  }
  for (const RoomKey& key : keys) disown(key, why);
  turn_.commitAndFlush();
  return keys;
}

}  // namespace partyd::party
