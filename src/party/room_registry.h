// RoomRegistry owns the room-id → Room map of one shard: it creates a Room on first use, finds it
// by key or by handle, tells which rooms have been idle past the timeout, and keeps the shard's
// alarm schedule. It runs no code and no timers itself: the shard drives it with the time, so
// tests step it with a fake clock. Sockets belong to ws/, database handles to storage/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/storage.h"
#include "ws/connection.h"

namespace partyd::party {

using RoomKey = storage::RoomKey;

struct Room {
  std::uint32_t handle = 0;
  RoomKey key;
  // Live sockets by connection handle (the same handles that JS sees).
  std::unordered_map<std::uint64_t, std::shared_ptr<ws::Connection>> connections;
  std::uint32_t busy = 0;         // requests and connects in flight, a running alarm
  std::int64_t lastActiveMs = 0;  // when it last had work
  bool hibernate = false;   // the party asked for hibernation (options.hibernate)
  bool hibernated = false;  // its JS object is gone; its sockets stay open here
  // Alarm state: the time being delivered right now, and how many times it failed.
  std::optional<std::int64_t> firingAlarm;
  std::uint32_t alarmRetries = 0;

  bool idle() const { return busy == 0 && connections.empty(); }
};

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

  // Alarm schedule: at most one per room key, whether or not the room is live.
  void scheduleAlarm(const RoomKey& key, std::int64_t timeMs);
  void cancelAlarm(const RoomKey& key);
  std::optional<std::int64_t> alarmTime(const RoomKey& key) const;
  std::optional<std::int64_t> nextAlarmTime() const;
  // Removes and returns the alarms due at `nowMs`, earliest first.
  std::vector<std::pair<RoomKey, std::int64_t>> takeDueAlarms(std::int64_t nowMs);

 private:
  static std::string flatKey(const RoomKey& key) { return key.party + '\0' + key.room; }

  std::uint32_t nextHandle_ = 1;
  std::unordered_map<std::string, std::uint32_t> byKey_;
  std::unordered_map<std::uint32_t, std::unique_ptr<Room>> byHandle_;
  std::map<std::string, std::pair<RoomKey, std::int64_t>> alarms_;  // flat key → time
  std::set<std::pair<std::int64_t, std::string>> alarmOrder_;       // (time, flat key)
};

}  // namespace partyd::party
