// ShardRuntime is everything one shard runs for a project: the V8 engine with the web platform
// and the PartyKit facade, the rooms (party/RoomRegistry), their WebSockets, pending HTTP
// requests, timers and alarms, and the shard's storage. Every call into JS is one *turn*: run
// the handler, drain microtasks, commit the turn's storage writes, then let the turn's frames and
// responses out (the output gate). Events for a room arrive here only on the owning shard.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "http/route.h"
#include "http/session.h"
#include "js/engine.h"
#include "net/shard.h"
#include "party/room_registry.h"
#include "storage/storage.h"
#include "ws/connection.h"

namespace partyd::api {

struct RuntimeConfig {
  std::string userBundle;               // the project's bundle (sets __partyd_parties)
  std::string userBundleName = "party.js";
  std::string envJson = "{}";           // room.env
  std::vector<std::string> partyNames;  // "main" first
  std::int64_t idleTimeoutMs = 30'000;
  std::int64_t handlerBudgetMs = 30'000;  // a handler running longer is terminated
  ws::ConnectionLimits wsLimits;
  std::size_t heapLimitMb = 0;
};

class ShardRuntime final : public ws::ConnectionOwner {
 public:
  ShardRuntime(net::Shard& shard, std::unique_ptr<storage::Storage> storage, RuntimeConfig config);
  ~ShardRuntime() override;

  // On the shard's thread: creates the isolate, runs the runtime and the user's bundle, and arms
  // the stored alarms.
  Result<void> start();
  void stop();

  bool hasParty(const std::string& name) const;
  js::Engine* engine() const { return engine_.get(); }

  void handleRequest(std::shared_ptr<http::Session> session, http::Request&& request,
                     const http::PartyRoute& route);
  void handleUpgrade(std::shared_ptr<http::Session> session, http::Request&& request,
                     const http::PartyRoute& route);

  // ws::ConnectionOwner
  void onWsMessage(std::uint64_t tag, ws::Opcode op, std::string_view payload) override;
  void onWsClosed(std::uint64_t tag, std::uint16_t code, std::string_view reason,
                  bool clean) override;

  // ---- used by the natives (natives.cc) ----
  struct ConnEntry {
    std::uint32_t room;
    std::shared_ptr<ws::Connection> conn;
    std::string acceptKey;  // set until the 101 is sent
  };
  struct PendingRequest {
    std::uint32_t room;
    std::shared_ptr<http::Session> session;
  };
  ConnEntry* findConn(std::uint64_t handle);
  party::Room* findRoom(std::uint32_t handle) { return rooms_.byHandle(handle); }
  storage::Storage& storage() { return *storage_; }
  void accept(std::uint64_t conn, std::uint16_t closeCode, std::string_view reason);
  void respond(std::uint64_t request, http::Response response);
  void setAlarm(party::Room& room, std::int64_t timeMs);
  void deleteAlarm(party::Room& room);
  void alarmDone(std::uint32_t room, bool ok);
  void setTimer(std::uint32_t id, double delayMs);
  void clearTimer(std::uint32_t id);
  void log(int level, std::string_view text);

 private:
  void installNatives(v8::Local<v8::Object> target);
  party::Room& activate(const party::RoomKey& key);
  void evictIdle();
  void armSweep();
  void armAlarmTimer();
  void onAlarmTimer();

  // One turn: calls entry.<name>(args) for `room` (0: none), then ends the turn.
  void callEntry(const char* name, std::uint32_t room, int argc, v8::Local<v8::Value>* argv);
  void endTurn();

  net::Shard& shard_;
  std::unique_ptr<storage::Storage> storage_;
  RuntimeConfig config_;
  std::unique_ptr<js::Engine> engine_;
  v8::Global<v8::Object> entry_;
  party::RoomRegistry rooms_;
  ws::FlushQueue flushQueue_;
  std::unordered_map<std::uint64_t, ConnEntry> conns_;
  std::unordered_map<std::uint64_t, PendingRequest> requests_;
  std::vector<std::pair<std::shared_ptr<http::Session>, http::Response>> outbox_;
  std::unordered_map<std::uint32_t, std::unique_ptr<boost::asio::steady_timer>> timers_;
  boost::asio::steady_timer sweepTimer_;
  boost::asio::steady_timer alarmTimer_;
  std::uint64_t nextConn_ = 1;
  std::uint64_t nextRequest_ = 1;
  int depth_ = 0;  // > 0 while JS runs; events that arrive then are posted, not nested
  std::string label_;  // "party/room" of the room whose event is running, for console output
  bool stopped_ = false;
};

}  // namespace partyd::api
