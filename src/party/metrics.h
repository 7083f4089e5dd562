// The figures one shard keeps about its rooms, for /metrics (server/observe.cc). They are plain
// integers, owned by the shard's RoomHost, Turn and Edge and touched only on the shard's thread;
// a scrape posts to each shard for a copy (RoomHost::metrics) and adds the copies up. Labels are
// the project and the party, never the room id: a party's set of rooms is unbounded.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "base/metrics.h"
#include "http/session.h"

namespace partyd::party {

// WebSocket close codes grouped into a bounded set of label values: each code of RFC 6455's
// 1000-1015, "3xxx" (registered), "4xxx" (the application's), and "other".
inline constexpr std::array<std::string_view, 19> kCloseClasses = {
    "1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009",
    "1010", "1011", "1012", "1013", "1014", "1015", "3xxx", "4xxx", "other"};
inline std::size_t closeClass(std::uint16_t code) {
  if (code >= 1000 && code <= 1015) return code - 1000;
  if (code >= 3000 && code <= 3999) return 16;
  if (code >= 4000 && code <= 4999) return 17;
  return 18;
}

// One party's counters on one shard (the party "" holds what belongs to none: static assets,
// onFetch, onSocket rooms, unknown paths).
struct PartyCounters {
  // rooms
  std::uint64_t roomsActivated = 0;   // objects built: first use, or woken from hibernation
  std::uint64_t roomsHibernated = 0;  // objects dropped by hibernation (sockets kept)
  std::uint64_t roomsEvicted = 0;     // rooms dropped after the idle timeout
  std::uint64_t roomResets = 0;       // objects dropped after a runaway handler or a reload
  std::uint64_t handlerTimeouts = 0;
  // connections and traffic
  std::uint64_t connectionsOpened = 0;
  std::array<std::uint64_t, kCloseClasses.size()> connectionsClosed{};
  std::uint64_t slowConsumerCloses = 0;
  std::uint64_t messagesIn = 0, bytesIn = 0, messagesOut = 0, bytesOut = 0;
  // alarms
  std::uint64_t alarmRuns = 0, alarmRetries = 0, alarmFailures = 0;
  // HTTP responses by status class, and their times by request kind and class (Session counts
  // them; upgrades that got a 101 are counted by RoomHost::accept, in the times only)
  http::ResponseCounts http;
  // gauges, filled in when a copy is taken
  std::uint64_t roomsActive = 0, roomsAsleep = 0, connectionsOpen = 0;

  void add(const PartyCounters& o);
};

// What one shard (or, added up, the whole server) reports.
struct ShardMetrics {
  std::map<std::string, PartyCounters, std::less<>> parties;
  metrics::Histogram handlerSeconds;        // each run of user code, start to end
  metrics::Histogram turnCommitSeconds;     // commit and flush at the end of a loop pass
  metrics::Histogram storageCommitSeconds;  // the storage transaction's commit alone
  std::uint64_t storageCommits = 0, storageCommitFailures = 0;
  std::uint64_t storageBytes = 0;  // the shard's database in use (pages not on the free list)

  // The counters of `party`, made on first use. The address stays valid for the map's life.
  PartyCounters& party(std::string_view name) {
    auto it = parties.find(name);
    if (it == parties.end()) it = parties.emplace(std::string(name), PartyCounters{}).first;
    return it->second;
  }
  void add(const ShardMetrics& o);
};

// One project's figures, summed over its shards.
struct ProjectMetrics {
  std::string project;  // the `project` label
  ShardMetrics metrics;
};

// Writes every project's figures in the exposition format: each family once, with its HELP and
// TYPE lines, then the samples of every project (labelled by `project`).
void writeMetrics(std::span<const ProjectMetrics> projects, metrics::TextWriter& w);

}  // namespace partyd::party
