// Room is one (party, room id) of a shard as the party layer sees it: its handle, its sockets (the
// room's one connection table), the work in flight that keeps it alive, and its hibernation and
// alarm state. It holds no JS: the user's object lives in the engine, keyed by the handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "party/metrics.h"
#include "storage/storage.h"
#include "ws/connection.h"

namespace partyd::party {

using RoomKey = storage::RoomKey;

// A Durable Object id: 64 hex characters, stable per (party, room).
std::string internalId(const RoomKey& key);

// One WebSocket of a room. The runtime owns it, so it outlives the room's JS object while the
// room hibernates.
struct Socket {
  std::shared_ptr<ws::Connection> conn;
  std::string acceptKey;  // until onConnect finishes and the 101 goes out; empty once open
  std::string stash;      // while the room hibernates: id, uri, tags, state (engine-serialized)
  std::int64_t openedMs = 0;  // monotonic, when the upgrade arrived (for the inspector)
  std::string id;             // the connection's id, as onConnect got it (for the inspector)
  // When the upgrade request was parsed, for partyd_http_request_duration_seconds{kind="upgrade"}.
  std::chrono::steady_clock::time_point requestedAt{};
  // --max-messages-per-second: a token bucket (a second's worth of burst), when limited.
  double tokens = -1;  // -1: full, not yet used
  std::int64_t tokensAtMs = 0;
  bool pending() const { return !acceptKey.empty(); }
};

struct Room {
  std::uint32_t handle = 0;
  RoomKey key;
  std::unordered_map<std::uint64_t, Socket> sockets;  // by connection handle (JS sees the same)
  std::uint32_t busy = 0;         // requests and connects in flight, a running alarm
  std::int64_t lastActiveMs = 0;  // when it last had work
  bool hibernate = false;   // the party asked for hibernation (options.hibernate)
  bool hibernated = false;  // its JS object is gone (or was never built); its sockets stay open
  // Alarm state: the time being delivered right now, and how many times it failed.
  std::optional<std::int64_t> firingAlarm;  // its stored time
  std::uint32_t alarmRetries = 0;
  // Code updates: the version its object was built from; while that is an old one, the latest
  // time it may keep it (0: none yet), and the events that wait for it to move to the new code.
  std::uint32_t codeVersion = 0;
  std::int64_t moveByMs = 0;
  std::vector<std::function<void()>> held;
  // For /metrics and the inspector: its party's counters, its own traffic and recent log lines.
  PartyCounters* stats = nullptr;
  std::uint64_t messagesIn = 0, messagesOut = 0;
  std::int64_t createdMs = 0;
  std::deque<std::string> recentLog;
  // --max-room-storage: bytes of its keys and values, counted at the first write when limited.
  std::optional<std::uint64_t> storageBytes;

  bool idle() const { return busy == 0 && sockets.empty() && held.empty(); }
};

}  // namespace partyd::party
