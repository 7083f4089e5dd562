#include "party/room_registry.h"

namespace partyd::party {

std::pair<Room*, bool> RoomRegistry::getOrCreate(const RoomKey& key, std::int64_t nowMs) {
  std::string flat = flatKey(key);
  auto it = byKey_.find(flat);
  if (it != byKey_.end()) return {byHandle_.at(it->second).get(), false};
  std::uint32_t handle = nextHandle_++;
  if (nextHandle_ == 0) nextHandle_ = 1;
  auto room = std::make_unique<Room>();
  room->handle = handle;
  room->key = key;
  room->lastActiveMs = nowMs;
  Room* raw = room.get();
  byHandle_.emplace(handle, std::move(room));
  byKey_.emplace(std::move(flat), handle);
  return {raw, true};
}

Room* RoomRegistry::find(const RoomKey& key) {
  auto it = byKey_.find(flatKey(key));
  return it == byKey_.end() ? nullptr : byHandle_.at(it->second).get();
}

Room* RoomRegistry::byHandle(std::uint32_t handle) {
  auto it = byHandle_.find(handle);
  return it == byHandle_.end() ? nullptr : it->second.get();
}

void RoomRegistry::erase(std::uint32_t handle) {
  auto it = byHandle_.find(handle);
  if (it == byHandle_.end()) return;
  byKey_.erase(flatKey(it->second->key));
  byHandle_.erase(it);
}

std::vector<std::uint32_t> RoomRegistry::idleRooms(std::int64_t nowMs,
                                                   std::int64_t idleTimeoutMs) const {
  std::vector<std::uint32_t> out;
  for (const auto& [handle, room] : byHandle_) {
    if (room->idle() && nowMs - room->lastActiveMs >= idleTimeoutMs) out.push_back(handle);
  }
  return out;
}

std::vector<std::uint32_t> RoomRegistry::hibernationCandidates(std::int64_t nowMs,
                                                              std::int64_t afterMs) const {
  std::vector<std::uint32_t> out;
  for (const auto& [handle, room] : byHandle_) {
    if (room->hibernate && !room->hibernated && room->busy == 0 && !room->connections.empty() &&
        nowMs - room->lastActiveMs >= afterMs) {
      out.push_back(handle);
    }
  }
  return out;
}

void RoomRegistry::scheduleAlarm(const RoomKey& key, std::int64_t timeMs) {
  cancelAlarm(key);
  std::string flat = flatKey(key);
  alarmOrder_.emplace(timeMs, flat);
  alarms_.emplace(std::move(flat), std::make_pair(key, timeMs));
}

void RoomRegistry::cancelAlarm(const RoomKey& key) {
  auto it = alarms_.find(flatKey(key));
  if (it == alarms_.end()) return;
  alarmOrder_.erase({it->second.second, it->first});
  alarms_.erase(it);
}

std::optional<std::int64_t> RoomRegistry::alarmTime(const RoomKey& key) const {
  auto it = alarms_.find(flatKey(key));
  if (it == alarms_.end()) return std::nullopt;
  return it->second.second;
}

std::optional<std::int64_t> RoomRegistry::nextAlarmTime() const {
  if (alarmOrder_.empty()) return std::nullopt;
  return alarmOrder_.begin()->first;
}

std::vector<std::pair<RoomKey, std::int64_t>> RoomRegistry::takeDueAlarms(std::int64_t nowMs) {
  std::vector<std::pair<RoomKey, std::int64_t>> out;
  while (!alarmOrder_.empty() && alarmOrder_.begin()->first <= nowMs) {
    auto [time, flat] = *alarmOrder_.begin();
    alarmOrder_.erase(alarmOrder_.begin());
    auto it = alarms_.find(flat);
    out.emplace_back(it->second.first, time);
    alarms_.erase(it);
  }
  return out;
}

}  // namespace partyd::party
