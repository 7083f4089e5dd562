// RoomHost's side of cluster mode (docs/cluster.md): a room runs here only while this node owns
// it. server/cluster_node.cc claims a room and loads its storage before the first event reaches
// it (adopt), and takes it away when ownership is lost (disown).
#include "base/log.h"
#include "party/room_host.h"

namespace partyd::party {

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
