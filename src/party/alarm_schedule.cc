#include "party/alarm_schedule.h"

#include "party/room_registry.h"

namespace partyd::party {

void AlarmSchedule::schedule(const RoomKey& key, std::int64_t timeMs,
                             std::optional<std::int64_t> storedMs) {
  cancel(key);
  std::string flat = RoomRegistry::flatKey(key);
  order_.emplace(timeMs, flat);
  alarms_.emplace(std::move(flat), Entry{key, timeMs, storedMs.value_or(timeMs)});
}

void AlarmSchedule::cancel(const RoomKey& key) {
  auto it = alarms_.find(RoomRegistry::flatKey(key));
  if (it == alarms_.end()) return;
  order_.erase({it->second.timeMs, it->first});
  alarms_.erase(it);
}

std::optional<std::int64_t> AlarmSchedule::timeOf(const RoomKey& key) const {
  auto it = alarms_.find(RoomRegistry::flatKey(key));
  if (it == alarms_.end()) return std::nullopt;
  return it->second.timeMs;
}

std::optional<std::int64_t> AlarmSchedule::next() const {
  if (order_.empty()) return std::nullopt;
  return order_.begin()->first;
}

std::vector<AlarmSchedule::Due> AlarmSchedule::takeDue(std::int64_t nowMs) {
  std::vector<Due> out;
  while (!order_.empty() && order_.begin()->first <= nowMs) {
    auto [time, flat] = *order_.begin();
    order_.erase(order_.begin());
    auto it = alarms_.find(flat);
    out.push_back(Due{it->second.key, time, it->second.storedMs});
    alarms_.erase(it);
  }
  return out;
}

}  // namespace partyd::party
