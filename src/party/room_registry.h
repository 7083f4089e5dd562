// RoomRegistry owns the room-id → Room map of one shard: it creates a Room on first use, finds it
// by key or by handle, and tells which rooms have been idle past the timeout. It runs no code and
// no timers itself: RoomHost drives it with the time, so tests step it with a fake clock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "party/room.h"

namespace partyd::party {

class RoomRegistry {
 public:
  // Returns the room and whether it was just created.
  std::pair<Room*, bool> getOrCreate(const RoomKey& key, std::int64_t nowMs);
  Room* find(const RoomKey& key);
  Room* byHandle(std::uint32_t handle);
  void erase(std::uint32_t handle);
  std::size_t size() const { return byHandle_.size(); }
  template <typename F>
  void forEach(F&& fn) {
    for (auto& [handle, room] : byHandle_) fn(*room);
  }

  // Records activity; an idle room's clock starts from its last activity.
  void touch(Room& room, std::int64_t nowMs) { room.lastActiveMs = nowMs; }
  // Rooms with no connections and no work for at least `idleTimeoutMs`.
  std::vector<std::uint32_t> idleRooms(std::int64_t nowMs, std::int64_t idleTimeoutMs) const;
  // Hibernating rooms with open sockets and no work for at least `afterMs`: their JS object can go.
  std::vector<std::uint32_t> hibernationCandidates(std::int64_t nowMs, std::int64_t afterMs) const;

  static std::string flatKey(const RoomKey& key) { return key.party + '\0' + key.room; }

 private:
  std::uint32_t nextHandle_ = 1;
  std::unordered_map<std::string, std::uint32_t> byKey_;
  std::unordered_map<std::uint32_t, std::unique_ptr<Room>> byHandle_;
};

}  // namespace partyd::party
