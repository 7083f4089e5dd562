// ShardRuntime is everything one shard runs for a project: the V8 engine with the web platform
// and the PartyKit facade, the rooms (party/RoomRegistry), their WebSockets, pending HTTP
// requests, timers and alarms, and the shard's storage. Every call into JS is one *turn*: run
// the handler, drain microtasks, commit the turn's storage writes, then let the turn's frames and
// responses out (the output gate). Events for a room arrive here only on the owning shard.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "http/route.h"
#include "http/session.h"
#include "http/static_files.h"
#include "js/engine.h"
#include "net/http_client.h"
#include "net/shard.h"
#include "party/room_registry.h"
#include "storage/storage.h"
#include "ws/connection.h"
#include "ws/ws_client.h"

namespace partyd::api {

struct RuntimeConfig {
  std::string userBundle;               // the project's bundle (sets __partyd_parties)
  std::string userBundleName = "party.js";
  std::string envJson = "{}";           // room.env
  std::vector<std::string> partyNames;  // "main" first
  std::int64_t idleTimeoutMs = 30'000;
  std::int64_t hibernateAfterMs = 10'000;  // a hibernating room quiet this long drops its JS object
  std::int64_t handlerBudgetMs = 30'000;  // a handler running longer is terminated
  ws::ConnectionLimits wsLimits;
  std::size_t heapLimitMb = 0;
  const http::StaticFiles* assets = nullptr;  // for lobby.assets / room.context.assets
};

// What a worker hook decided about a request (see edge.js).
// partyd's own loopback requests (a party stub's socket()) carry this header with a secret made
// once per process: they skip the target's worker hooks, as PartyKit's in-process stubs do, and
// the header is removed before the room sees the request.
inline constexpr char kInternalHeader[] = "x-partyd-internal";
const std::string& internalToken();

struct EdgeResult {
  enum Action { kContinue = 0, kRespond = 1, kRewrite = 2, kUnhandled = 3 } action = kContinue;
  http::Response response;  // kRespond
  std::string url;          // kRewrite: the new request's method, URL and headers (and body)
  std::string method;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;
};

struct HookInfo {
  std::vector<std::string> beforeConnect, beforeRequest;  // parties with the hook
  bool fetch = false, socket = false, cron = false;
};

// A request that does not come from a socket: a party stub's fetch() from another room.
struct InternalRequest {
  std::string method, url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ShardRuntime final : public ws::ConnectionOwner {
 public:
  ShardRuntime(net::Shard& shard, std::unique_ptr<storage::Storage> storage, RuntimeConfig config);
  ~ShardRuntime() override;

  // On the shard's thread: creates the isolate, runs the runtime and the user's bundle, and arms
  // the stored alarms.
  Result<void> start();
  void stop();
  // Swaps in a new build of the project: live rooms are dropped (sockets get 1012), the bundle
  // runs again in the same context, and the next event for a room builds it from the new code.
  Result<void> reload(std::string bundle, std::string bundleName, std::string envJson,
                      std::vector<std::string> partyNames);

  bool hasParty(const std::string& name) const;
  js::Engine* engine() const { return engine_.get(); }

  void handleRequest(std::shared_ptr<http::Session> session, http::Request&& request,
                     const http::PartyRoute& route);
  // A request from another room (any shard); `reply` runs on this shard after the output gate.
  void handleInternal(const http::PartyRoute& route, InternalRequest request,
                      std::function<void(http::Response)> reply);
  // Runs a worker hook of kind "connect", "request", "fetch" or "cron" on this shard; `done`
  // runs later on this shard's loop, never inside the call.
  void runEdge(const char* kind, const std::string& party, const std::string& room,
               const http::Request& request, std::function<void(EdgeResult)> done,
               std::string_view extra = {});
  const HookInfo& hooks() const { return hooks_; }
  // How this runtime reaches the others: run `fn` on shard `index`'s runtime.
  using PostToShard = std::function<void(std::size_t index, std::function<void(ShardRuntime&)>)>;
  void setPeers(PostToShard post) { postToShard_ = std::move(post); }
  std::size_t shardIndex() const { return shard_.index(); }
  std::size_t shardCount() const { return shard_.count(); }
  void handleUpgrade(std::shared_ptr<http::Session> session, http::Request&& request,
                     const http::PartyRoute& route);

  // ws::ConnectionOwner
  void onWsMessage(std::uint64_t tag, ws::Opcode op, std::string_view payload) override;
  void onWsReadBatch(bool begin) override;
  void onWsClosed(std::uint64_t tag, std::uint16_t code, std::string_view reason,
                  bool clean) override;

  // ---- used by the natives (natives.cc) ----
  struct ConnEntry {
    std::uint32_t room;
    std::shared_ptr<ws::Connection> conn;
    std::string stash;      // while its room hibernates: id, uri, tags, state (serialized)
  };
  struct PendingRequest {
    std::uint32_t room;
    std::shared_ptr<http::Session> session;     // a client's request, or
    std::function<void(http::Response)> reply;  // another room's
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
  void stashConnection(std::uint64_t conn, std::string bytes);
  // fetch(): starts an outbound request; the answer comes back as entry.fetchResolved/Rejected.
  std::uint64_t startFetch(net::FetchRequest request);
  void abortFetch(std::uint64_t id);
  ws::WsClient& wsClient() { return *wsClient_; }
  // Delivers an outgoing WebSocket's event to JS (entry.wsOpen, wsMessage, wsError, wsClose).
  void deliverWsEvent(const char* name, int argc, v8::Local<v8::Value>* argv) {
    callEntry(name, 0, argc, argv);
  }
  void roomHibernated(std::uint32_t room);
  void edgeDone(std::uint64_t handle, EdgeResult result);
  // A party stub's fetch(): routes to the owning shard; the answer comes back as fetchDone.
  std::uint64_t partyFetch(const http::PartyRoute& route, InternalRequest request);
  const http::StaticFiles* assets() const { return config_.assets; }

 private:
  void installNatives(v8::Local<v8::Object> target);
  party::Room& activate(const party::RoomKey& key);
  // Each returns how many rooms it evicted or hibernated.
  std::size_t evictIdle();
  std::size_t hibernateQuiet();
  void releaseMemoryIfQuiet();
  void runV8Tasks();
  void scheduleLogFlush();
  // Drops a room's object after a runaway handler: its requests get 500, its sockets 1011.
  void resetRoom(std::uint32_t room, const std::string& why, std::uint16_t closeCode = 1011,
                 unsigned status = 500);
  Result<void> loadUserCode();
  bool createJsRoom(party::Room& room, int argc, v8::Local<v8::Value>* argv);
 public:
  void setCreatedHibernating(bool on) { createdHibernating_ = on; }
 private:
  // Brings a hibernated room back (constructor and onStart run again, sockets are restored).
  void wake(party::Room& room);
  void armSweep();
  void armAlarmTimer();
  void onAlarmTimer();

  // One turn: calls entry.<name>(args) for `room` (0: none), then ends the turn.
  void callEntry(const char* name, std::uint32_t room, int argc, v8::Local<v8::Value>* argv);
  void deliverRequest(party::Room& room, PendingRequest pending, const std::string& method,
                      const std::string& url, v8::Local<v8::Array> headers,
                      const std::string& body);
  void fetchAnswered(std::uint64_t handle, http::Response response);
  void endTurn();
  void commitAndFlush();
  v8::Local<v8::Function> entryFunction(const char* name);

  net::Shard& shard_;
  std::unique_ptr<storage::Storage> storage_;
  RuntimeConfig config_;
  std::unique_ptr<js::Engine> engine_;
  std::unique_ptr<net::HttpClient> httpClient_;
  std::unique_ptr<ws::WsClient> wsClient_;
  v8::Global<v8::Object> entry_;
  party::RoomRegistry rooms_;
  ws::FlushQueue flushQueue_;
  std::unordered_map<std::uint64_t, ConnEntry> conns_;
  // Sockets whose onConnect has not finished: their Sec-WebSocket-Accept, until the 101 is sent.
  std::unordered_map<std::uint64_t, std::string> pendingAccepts_;
  std::unordered_map<std::uint64_t, PendingRequest> requests_;
  std::vector<std::pair<PendingRequest, http::Response>> outbox_;
  std::unordered_map<std::uint64_t, std::function<void(EdgeResult)>> edges_;
  HookInfo hooks_;
  PostToShard postToShard_;
  std::uint64_t nextEdge_ = 1;
  std::uint64_t nextFetch_ = 1;
  std::uint64_t nextOutbound_ = 1;
  std::unordered_map<std::uint64_t, std::uint64_t> outbound_;  // fetch() id → client id
  std::unordered_map<std::uint32_t, std::unique_ptr<boost::asio::steady_timer>> timers_;
  boost::asio::steady_timer sweepTimer_;
  boost::asio::steady_timer alarmTimer_;
  std::uint64_t nextConn_ = 1;
  std::uint64_t nextRequest_ = 1;
  int depth_ = 0;  // > 0 while JS runs; events that arrive then are posted, not nested
  std::uint32_t currentRoom_ = 0;  // the room whose event runs, for console output
  bool flushPosted_ = false;
  std::unordered_map<std::string, v8::Global<v8::Function>> entryFns_;
  bool stopped_ = false;
  // Quiet-time memory release (see releaseMemoryIfQuiet): JS calls so far, and at the last sweep.
  std::uint64_t events_ = 0;
  std::uint64_t eventsAtLastSweep_ = 0;
  bool memoryToRelease_ = false;
  std::int64_t lastReleaseMs_ = 0;
  // While a socket's read is handled (onWsReadBatch), turns hold their output until it ends.
  int readBatch_ = 0;
  bool outputHeld_ = false;
  bool flushing_ = false;        // inside commitAndFlush
  bool logFlushPosted_ = false;  // a posted log::flushHeld is pending
  bool createdHibernating_ = false;  // set by JS during createRoom
};

}  // namespace partyd::api
