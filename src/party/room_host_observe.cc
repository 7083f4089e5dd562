// RoomHost's observation side: the copy of its figures that a /metrics scrape takes, and the
// recent log lines each room keeps for the inspector. Nothing here wakes a room or changes what
// user code sees.
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/log.h"
#include "party/room_host.h"

namespace partyd::party {

ShardMetrics RoomHost::metrics() {
  ShardMetrics copy = metrics_;
  for (auto& [name, c] : copy.parties) c.roomsActive = c.roomsAsleep = c.connectionsOpen = 0;
  rooms_.forEach([&](Room& room) {
    PartyCounters& c = copy.party(room.key.party);
    ++(room.hibernated ? c.roomsAsleep : c.roomsActive);
    for (const auto& [handle, socket] : room.sockets) {
      if (!socket.pending()) ++c.connectionsOpen;
    }
  });
  copy.handlerSeconds = turn_.handlerSeconds;
  copy.turnCommitSeconds = turn_.commitSeconds;
  copy.storageCommitSeconds = turn_.storageCommitSeconds;
  copy.storageCommitFailures = turn_.commitFailures();
  copy.storageBytes = storage_->bytesInUse();
  return copy;
}

std::vector<PeekedSocket> RoomHost::peekConnections(Room& room) {
  std::vector<PeekedSocket> out;
  if (room.hibernated) return out;
  turn_.run(room.handle, [&] { out = code_.peekConnections(room); });
  return out;
}

namespace {

std::string stamp(log::Level level) {
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d %s ", tm.tm_hour, tm.tm_min, tm.tm_sec, ms,
                kNames[static_cast<int>(level)]);
  return buf;
}

}  // namespace

void RoomHost::keepLine(Room& room, std::string line) {
  room.recentLog.push_back(std::move(line));
  while (room.recentLog.size() > kRoomLogLines) room.recentLog.pop_front();
}

// Lines written on this shard's thread about one of its rooms go to that room's recent log: the
// request and connect lines (they name the room) and what user code logs while the room's
// handler runs (the context names it).
void RoomHost::observeLog() {
  log::setContext([this]() -> log::Fields {
    log::Fields f;
    if (Room* room = rooms_.byHandle(turn_.room())) {
      f.party = room->key.party;
      f.room = room->key.room;
    }
    return f;
  });
  log::setTap([this](log::Level level, const log::Fields& f, std::string_view msg) {
    if (f.room.empty() && f.party.empty()) return;
    Room* room = rooms_.find(RoomKey{std::string(f.party), std::string(f.room)});
    if (!room) return;
    keepLine(*room, stamp(level) + std::string(msg));
  });
}

void RoomHost::noteClose(Room& room, std::uint64_t conn, std::uint16_t code,
                         std::string_view reason) {
  if (!log::roomLinesKept()) return;
  keepLine(room, stamp(log::Level::kInfo) + "WS connection " + std::to_string(conn) + " closed " +
                     std::to_string(code) +
                     (reason.empty() ? std::string() : " " + std::string(reason)));
}

}  // namespace partyd::party
