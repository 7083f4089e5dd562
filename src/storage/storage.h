// Storage is the durable key-value store behind room.storage (the Durable Object storage API)
// and room alarms. A shard owns one Storage and calls it only from its own thread. Keys and values
// are bytes: keys are the UTF-8 of the JS string and sort by those bytes (memcmp order, as in
// Durable Objects); values are v8::ValueSerializer output, opaque here.
//
// Durability contract (the output gate relies on it): writes made since the last commit() are
// visible to reads at once, and become durable together, atomically, when commit() returns ok.
// The shard calls commit() at the end of every turn that wrote, before any frame or response
// produced in that turn leaves the process. A crash before commit() loses all of that turn's
// writes and nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::storage {

// Names one room's keyspace: the party name and the room id (raw, as in the URL).
struct RoomKey {
  std::string party;
  std::string room;
  bool operator==(const RoomKey&) const = default;
};

struct ListOptions {
  std::optional<std::string> start;       // inclusive
  std::optional<std::string> startAfter;  // exclusive; never set together with start
  std::optional<std::string> end;         // exclusive
  std::optional<std::string> prefix;
  bool reverse = false;
  std::optional<std::uint32_t> limit;  // > 0 when set
};

using Entry = std::pair<std::string, std::string>;  // key, value

struct Alarm {
  RoomKey room;
  std::int64_t timeMs;  // ms since the Unix epoch
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual Result<std::optional<std::string>> get(const RoomKey& room, std::string_view key) = 0;
  // Returns the entries that exist, in key order.
  virtual Result<std::vector<Entry>> getMany(const RoomKey& room,
                                             const std::vector<std::string>& keys) = 0;
  virtual Result<void> put(const RoomKey& room, std::string_view key, std::string_view value) = 0;
  // Returns whether the key existed.
  virtual Result<bool> del(const RoomKey& room, std::string_view key) = 0;
  virtual Result<std::vector<Entry>> list(const RoomKey& room, const ListOptions& options) = 0;
  // Deletes every key of the room (not its alarm).
  virtual Result<void> deleteAll(const RoomKey& room) = 0;

  virtual Result<std::optional<std::int64_t>> getAlarm(const RoomKey& room) = 0;
  virtual Result<void> setAlarm(const RoomKey& room, std::int64_t timeMs) = 0;
  virtual Result<void> deleteAlarm(const RoomKey& room) = 0;
  // Every stored alarm, for re-arming timers at start-up.
  virtual Result<std::vector<Alarm>> allAlarms() = 0;

  // Makes every write since the last commit durable, atomically. Cheap when nothing was written.
  virtual Result<void> commit() = 0;
  // Discards every write since the last commit.
  virtual void rollback() = 0;
  virtual bool dirty() const = 0;

  // ---- asynchronous commits (PostgresStorage; SQLite keeps the defaults) ----
  // Whether commit work goes over the network: then the caller uses commitAsync and holds the
  // output of the writes it covers until `done` (party/turn.h), instead of calling commit().
  virtual bool commitsAsync() const { return false; }
  // Commits every write made before the call; writes made while it is in flight go into the next
  // one. `done` runs on the caller's thread, later (or at once for the default).
  virtual void commitAsync(std::function<void(Result<void>)> done) { done(commit()); }
  // After a failed commit: the rooms whose writes the fence refused (their owner changed), and the
  // rooms whose writes were lost otherwise (the fenced ones excepted). Both describe the last
  // commit that completed.
  virtual std::vector<RoomKey> fencedRooms() { return {}; }
  virtual std::vector<RoomKey> lostRooms() { return {}; }

  // ---- observation (/metrics, the inspector): reads only, never a write ----
  struct Usage {
    std::uint64_t keys = 0;
    std::uint64_t bytes = 0;  // keys and values
  };
  // One room's keys and bytes. The default lists the room; backends answer it faster.
  virtual Result<Usage> usage(const RoomKey& room) {
    auto all = list(room, ListOptions{});
    if (!all) return all.error();
    Usage u;
    for (const auto& [k, v] : *all) {
      ++u.keys;
      u.bytes += k.size() + v.size();
    }
    return u;
  }
  // The bytes of the whole store in use (0 when unknown).
  virtual std::uint64_t bytesInUse() { return 0; }
};

}  // namespace partyd::storage
