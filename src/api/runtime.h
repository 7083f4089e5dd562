// Runtime is what user code runs on, for one shard: the V8 engine with the web platform and the
// PartyKit facade (src/api/js, bundled and embedded), the project's bundle, and the natives that
// JS calls. It is the party layer's UserCode: RoomHost and Edge call it to build rooms and deliver
// events, and it calls them back from the natives (accept, respond, send, storage, alarms). It
// also owns what a room reaches outside partyd: outgoing fetch, outgoing WebSockets and timers.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <string_view>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "js/engine.h"
#include "net/geoip.h"
#include "net/http_client.h"
#include "party/edge.h"
#include "party/room_host.h"
#include "party/user_code.h"
#include "ws/ws_client.h"

namespace partyd::api {

// A scheduled event of user code for partyd serve's tail: an alarm (of room `where`) or a cron,
// with the console lines it wrote (level, text) and whether it ended well.
struct ScheduledTrace {
  bool cron = false;
  std::string where;     // "party/room" for an alarm
  std::string cronName;  // a cron's name and expression
  std::string cronExpr;
  std::int64_t scheduledTimeMs = 0;
  bool ok = true;
  std::vector<std::pair<int, std::string>> logs;
};

struct RuntimeConfig {
  std::string userBundle;               // the project's bundle (sets __partyd_parties)
  std::string userBundleName = "party.js";
  std::string envJson = "{}";           // room.env
  std::vector<std::string> partyNames;  // "main" first
  std::size_t heapLimitMb = 0;
  // `--geoip`: request.cf's geography for the address the edge put in cf-connecting-ip.
  std::shared_ptr<const net::GeoIp> geoip;
  // Sees every console line of user code (partyd serve's tail); on the shard's thread.
  // `where` is "party/room" when a room's run logged, else empty.
  std::function<void(int level, std::string_view where, std::string_view text)> onLog;
  // Sees each alarm and cron when it ends, with its console lines (which then do not reach
  // onLog); on the shard's thread. Unset: nothing is collected.
  std::function<void(ScheduledTrace)> onTrace;
  // Gets the engine as soon as it exists, before any user code runs (the watchdog must see a
  // bundle that loops at load).
  std::function<void(js::Engine*)> onEngine;
};

class Runtime final : public party::UserCode {
 public:
  Runtime(boost::asio::io_context& io, RuntimeConfig config);
  ~Runtime() override;

  // The room host and edge of the same shard; before start().
  void attach(party::RoomHost& host, party::Edge& edge) {
    host_ = &host;
    edge_ = &edge;
  }
  // On the shard's thread: creates the isolate, runs the runtime and the user's bundle, and tells
  // the edge which worker hooks exist.
  Result<void> start();
  void stop();
  // Swaps in a new build of the project on this shard (RoomHost::updateCode): the new module is
  // evaluated in the same context beside the old one, and rooms move to it as RoomHost says.
  Result<void> reload(std::string bundle, std::string bundleName, std::string envJson,
                      std::vector<std::string> partyNames);

  js::Engine* engine() const { return engine_.get(); }
  party::RoomHost& host() { return *host_; }
  party::Edge& edge() { return *edge_; }

  // ---- used by the natives ----
  // fetch(): starts an outbound request; the answer comes back as entry.fetchResolved/Rejected.
  std::uint64_t startFetch(net::FetchRequest request);
  void abortFetch(std::uint64_t id);
  ws::WsClient& wsClient() { return *wsClient_; }
  // Delivers an outgoing WebSocket's event to JS (entry.wsOpen, wsMessage, wsError, wsClose).
  void deliverWsEvent(const char* name, int argc, v8::Local<v8::Value>* argv);
  void setTimer(std::uint32_t id, double delayMs);
  void clearTimer(std::uint32_t id);
  void log(int level, std::string_view text);
  // The ends of traced events (config.onTrace): an alarm's alarmDone, an edge hook's edgeDone.
  void traceAlarmDone(std::uint32_t room, bool ok);
  void traceEdgeDone(std::uint64_t call, unsigned status);

  // ---- party::UserCode ----
  void beginRun(std::int64_t budgetMs) override;
  bool endRun() override;
  void afterTimeout() override;
  std::string stopReason(std::int64_t budgetMs) override;
  void afterRoomReset() override;
  void runTasks() override;
  void releaseMemory() override;
  void createRoom(const party::Room& room,
                  std::optional<party::RestoredSockets> restore) override;
  void dropRoom(std::uint32_t room) override;
  void connect(const party::Room& room, std::uint64_t conn, std::string_view id,
               const http::Request& request) override;
  void message(const party::Room& room, std::uint64_t conn, ws::Opcode op,
               std::string_view payload) override;
  void close(const party::Room& room, std::uint64_t conn, std::uint16_t code,
             std::string_view reason, bool clean) override;
  void request(const party::Room& room, std::uint64_t req, const http::Request& request) override;
  void request(const party::Room& room, std::uint64_t req,
               const party::InternalRequest& request) override;
  void alarm(const party::Room& room, std::uint32_t retries) override;
  void hibernate(const party::Room& room, party::HibernateMode mode) override;
  std::vector<party::PeekedSocket> peekConnections(const party::Room& room) override;
  Result<void> prepareCode(const party::CodeBundle& next) override;
  void commitCode() override;
  void abandonCode() override;
  void edge(std::uint64_t call, const party::EdgeCall& hook) override;
  void partyFetchDone(std::uint64_t call, const http::Response& response) override;

 private:
  // Installs the natives and runs the partyd runtime, then the project's bundle.
  Result<void> initEngine();
  // The heap stayed over its limit: every room of the shard restarts on a fresh isolate.
  void replaceIsolate();
  // Calls entry.<name>(args); an exception is logged with its stack. Inside a run.
  void callEntry(const char* name, int argc, v8::Local<v8::Value>* argv);
  // callEntry as a run of its own, for events that come from outside the rooms (timers, fetch).
  void runEntry(const char* name, int argc, v8::Local<v8::Value>* argv);
  v8::Local<v8::Function> entryFunction(const char* name);
  // A request's headers as [[name, value], …] for the JS side.
  v8::Local<v8::Array> headerArray(const http::Request& request);
  v8::Local<v8::Value> headerBlock(const http::Request& request);
  const std::string& geo(std::string_view clientIp);
  const std::string& geo(const http::Request& request);
  const std::string& internalGeo(const party::InternalRequest& request);

  boost::asio::io_context& io_;
  RuntimeConfig config_;
  std::string lastGeoIp_, lastGeo_;  // geo()'s last answer
  party::RoomHost* host_ = nullptr;
  party::Edge* edge_ = nullptr;
  std::unique_ptr<js::Engine> engine_;
  std::unique_ptr<net::HttpClient> httpClient_;
  std::unique_ptr<ws::WsClient> wsClient_;
  v8::Global<v8::Object> entry_;
  std::unordered_map<std::string, v8::Global<v8::Function>> entryFns_;
  // Header names Beast knows (by its field enum), lower-cased and internalized in this isolate.
  std::vector<v8::Eternal<v8::String>> fieldNames_;
  std::uint64_t nextOutbound_ = 1;
  std::unordered_map<std::uint64_t, std::uint64_t> outbound_;  // fetch() id → client id
  std::unordered_map<std::uint32_t, std::unique_ptr<boost::asio::steady_timer>> timers_;
  bool stopped_ = false;
  // A build evaluated and checked by prepareCode, waiting for commitCode.
  std::optional<party::CodeBundle> candidate_;
  party::HookInfo candidateHooks_;
  // Open traced events (config.onTrace): alarms by room handle, crons by edge call.
  std::unordered_map<std::uint32_t, ScheduledTrace> alarmTraces_;
  std::unordered_map<std::uint64_t, ScheduledTrace> cronTraces_;
  int runDepth_ = 0;
  std::uint64_t isolateReplacements_ = 0;
  js::Engine::Stop lastStop_ = js::Engine::Stop::kNone;
  bool memoryStop_ = false;  // a run was stopped at the heap limit: collect after its reset
};

}  // namespace partyd::api
