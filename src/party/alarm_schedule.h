// AlarmSchedule is a shard's alarm timetable: at most one alarm per room key, live room or not,
// ordered by time, and the retry policy of a failed onAlarm (at least once, as in Durable
// Objects: exponential backoff from 2 s, dropped after 7 failures). Times are wall-clock ms.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "party/room.h"

namespace partyd::party {

class AlarmSchedule {
 public:
  static constexpr std::uint32_t kMaxRetries = 6;  // 7 runs in all
  static std::int64_t retryDelayMs(std::uint32_t retries) { return 2000LL << retries; }

  // `storedMs`: the time that storage holds for this alarm, when this is a retry of it (storage
  // keeps the failed alarm's time until a run succeeds, even if the room is evicted meanwhile).
  void schedule(const RoomKey& key, std::int64_t timeMs,
                std::optional<std::int64_t> storedMs = std::nullopt);
  void cancel(const RoomKey& key);
  std::optional<std::int64_t> timeOf(const RoomKey& key) const;
  std::optional<std::int64_t> next() const;
  struct Due {
    RoomKey key;
    std::int64_t timeMs;
    std::int64_t storedMs;
  };
  // Removes and returns the alarms due at `nowMs`, earliest first.
  std::vector<Due> takeDue(std::int64_t nowMs);
  std::size_t size() const { return alarms_.size(); }
  // Every scheduled alarm's room (cluster mode: a node that lost its lease drops them all).
  std::vector<RoomKey> keys() const {
    std::vector<RoomKey> out;
    for (const auto& [flat, entry] : alarms_) out.push_back(entry.key);
    return out;
  }

 private:
  struct Entry {
    RoomKey key;
    std::int64_t timeMs;
    std::int64_t storedMs;
  };
  std::map<std::string, Entry> alarms_;                    // flat key → entry
  std::set<std::pair<std::int64_t, std::string>> order_;  // (time, flat key)
};

}  // namespace partyd::party
