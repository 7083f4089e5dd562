// RoomHost is where the rooms of one shard live. It owns their activation (one instance per id),
// wake after hibernation, hibernation, eviction and reset; each room's one connection table; the
// delivery of upgrades, requests, messages, closes and alarms to user code, each as a Turn run;
// the alarm schedule and its retries; and the shard's storage. It calls user code only through
// UserCode, and time only through a Clock, so its tests use a fake engine and a fake clock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "http/session.h"
#include "party/alarm_schedule.h"
#include "party/metrics.h"
#include "party/room_registry.h"
#include "party/turn.h"
#include "party/user_code.h"
#include "storage/storage.h"
#include "ws/connection.h"

namespace partyd::party {

struct HostConfig {
  std::int64_t idleTimeoutMs = 30'000;
  std::int64_t hibernateAfterMs = 10'000;  // a hibernating room quiet this long drops its object
  // A code update: how long a live room may keep its old code while it finishes what it is doing
  // (see commitUpdate); after it, the room is moved anyway.
  std::int64_t codeUpdateDelayMs = 10'000;
  // CPU budget of one synchronous run of user code (docs/limits.md): a run still going after it
  // is stopped and its room reset. Time spent awaiting I/O is between runs and does not count.
  std::int64_t handlerBudgetMs = 2'000;
  std::size_t maxRoomConnections = 10'000;  // more are closed with 1013 (0: no limit)
  double maxMessagesPerSecond = 0;          // per connection; past it, close 1008 (0: no limit)
  std::uint64_t maxRoomStorageBytes = 0;    // a write past it throws (0: no limit)
  ws::ConnectionLimits wsLimits;
  // Cluster mode: a room left this shard's memory with no socket and no alarm (evicted idle), so
  // the node may give up its ownership. Unset on a single node.
  std::function<void(const RoomKey&)> roomGone;
};

class RoomHost final : public ws::ConnectionOwner {
 public:
  RoomHost(boost::asio::io_context& io, std::unique_ptr<storage::Storage> storage,
           UserCode& code, HostConfig config, Clock& clock = systemClock());
  ~RoomHost() override;

  // Arms the stored alarms (they fire even though their rooms are not live) and the sweep.
  Result<void> start();
  // Reads the stored alarms again and arms them: after a takeover, once storage opened
  // (storage/deferred_storage.h), since it had none to give at start.
  Result<void> loadAlarms();
  // Stops the timers and commits what is pending; sockets stay as they are.
  void stop();

  // ---- delivery (on the owning shard) ----
  void upgrade(std::shared_ptr<http::Session> session, http::Request&& request,
               const RoomKey& key);
  void request(std::shared_ptr<http::Session> session, http::Request&& request,
               const RoomKey& key);
  // A client's request read on another shard, whose session stays there (Edge::forward);
  // `reply` runs after the output gate.
  void request(http::Request&& request, const RoomKey& key,
               std::function<void(http::Response)> reply);
  // A party stub's fetch from another room (any shard); `reply` runs after the output gate.
  void request(const RoomKey& key, InternalRequest request,
               std::function<void(http::Response)> reply);

  // ws::ConnectionOwner
  void onWsMessage(std::uint64_t conn, ws::Opcode op, std::string_view payload) override;
  void onWsReadBatch(bool begin) override { turn_.readBatch(begin); }
  void onWsClosed(std::uint64_t conn, std::uint16_t code, std::string_view reason,
                  bool clean) override;

  // ---- what user code calls (through the natives) ----
  Room* findRoom(std::uint32_t handle) { return rooms_.byHandle(handle); }
  Socket* findSocket(std::uint64_t conn);
  // onConnect finished: the 101 goes out (then a close, when `closeCode` is set).
  void accept(std::uint64_t conn, std::uint16_t closeCode, std::string_view reason);
  // The room could not start (its constructor threw): the upgrade gets `status` and `body`.
  void refuse(std::uint64_t conn, unsigned status, std::string_view body);
  void respond(std::uint64_t req, http::Response response);
  ws::SendStatus send(std::uint64_t conn, const ws::Frame& frame);
  // Sends to every socket of the room but those in `exclude`; returns how many were dropped.
  std::size_t broadcast(std::uint32_t room, const ws::Frame& frame,
                        const std::vector<std::uint64_t>& exclude);
  void close(std::uint64_t conn, std::uint16_t code, std::string_view reason);
  // --max-room-storage: whether `writes` (key, value bytes) fit in the room's storage limit;
  // if so they are counted, if not `why` says so (and a line is logged). Deletes uncount.
  bool storageFits(Room& room, const std::vector<std::pair<std::string_view, std::size_t>>& writes,
                   std::string* why);
  void storageDeleting(Room& room, std::string_view key);
  void storageCleared(Room& room) { room.storageBytes = 0; }
  void stash(std::uint64_t conn, std::string bytes);
  void roomHibernated(std::uint32_t room);
  void setCreatedHibernating(bool on) { createdHibernating_ = on; }
  void setAlarm(Room& room, std::int64_t timeMs);
  void deleteAlarm(Room& room);
  void alarmDone(std::uint32_t room, bool ok);
  storage::Storage& storage() { return *storage_; }
  Turn& turn() { return turn_; }
  Clock& clock() { return clock_; }
  const HostConfig& config() const { return config_; }

  // ---- lifecycle ----
  // Drops every live room: sockets get `closeCode`, requests `status`.
  void resetAll(const std::string& why, std::uint16_t closeCode, unsigned status);
  // Drops one room's object after a runaway handler: its requests get 500, its sockets 1011, and
  // the next event builds a new object.
  void resetRoom(std::uint32_t room, const std::string& why, std::uint16_t closeCode = 1011,
                 unsigned status = 500);
  // An asynchronous commit failed (room_host_cluster.cc): fenced rooms (their owner changed) close
  // their sockets with 1012, their unsent frames dropped, and leave this node without touching
  // storage; rooms whose writes were lost reset (1011). Returns the handles of both.
  std::vector<std::uint32_t> resetAfterFailedCommit(const std::vector<RoomKey>& fenced,
                                                    const std::vector<RoomKey>& lost);
  // ---- code updates (room_host_update.cc; docs/design-notes.md) ----
  // Loads a new build beside the serving one (UserCode::prepareCode); on an error nothing changed.
  Result<void> prepareUpdate(const CodeBundle& next);
  void abandonUpdate();
  // Switches to the prepared build. Rooms not in memory (never built, hibernated) start on it
  // when their next event comes. A live room moves at its next idle point (nothing in flight,
  // nothing awaiting), or after codeUpdateDelayMs: a room whose party hibernates drops its object
  // as when it hibernates, keeping every socket with what it carries; any other room closes its
  // sockets with 1012 (Service Restart). Requests, upgrades and alarms for a room that waits to
  // move are held and delivered on the new code once it has.
  void commitUpdate();
  // Both, on one shard.
  Result<void> updateCode(const CodeBundle& next);
  std::uint32_t codeVersion() const { return codeVersion_; }
  // Live rooms still on an older build.
  std::size_t roomsOnOldCode();
  // The engine replaces its isolate (the heap stayed over its limit): no room's object exists
  // any more and none is dropped through user code. Requests get `status`; the sockets of
  // hibernated rooms keep their stash and stay open (their room wakes on the new isolate), the
  // others get `closeCode`; an alarm being delivered fires again.
  void resetForNewEngine(const std::string& why, std::uint16_t closeCode, unsigned status);
  // ---- cluster mode (room_host_cluster.cc) ----
  // This node now owns `key` (claimed, and its storage loaded): arms its stored alarm.
  void adopt(const RoomKey& key);
  // This node no longer owns `key` (fenced, or the node lost its lease): the room is dropped
  // without running user code or touching storage; its sockets get 1012, its requests 503.
  void disown(const RoomKey& key, const std::string& why);
  // The same for every room of this shard; returns their keys.
  std::vector<RoomKey> disownAll(const std::string& why);
  // One sweep: evicts idle rooms, hibernates quiet ones, gives memory back when quiet.
  void sweep();
  void fireDueAlarms();
  std::size_t roomCount() const { return rooms_.size(); }
  std::size_t socketCount() const { return connRoom_.size(); }
  std::uint64_t slowConsumerCloses() const { return slowConsumerCloses_; }
  std::uint64_t stoppedRuns() const { return stoppedRuns_; }
  std::uint64_t limitRefusals() const { return limitRefusals_; }

  // ---- observation: /metrics and the inspector (room_host_observe.cc). Reading never wakes a
  // room or changes its state. ----
  // The counters of `party` (the party "" for what belongs to none).
  PartyCounters& partyStats(std::string_view party) { return metrics_.party(party); }
  // A copy of this shard's figures, with the gauges (rooms, connections, bytes) filled in.
  ShardMetrics metrics();
  // For the inspector: each connection of a room whose object is live, read from the object as
  // one run of no handler (UserCode::peekConnections); none for a hibernated room.
  std::vector<PeekedSocket> peekConnections(Room& room);
  template <typename F>
  void forEachRoom(F&& fn) {
    rooms_.forEach(fn);
  }
  Room* findRoom(const RoomKey& key) { return rooms_.find(key); }
  std::optional<std::int64_t> nextAlarm(const RoomKey& key) const { return alarms_.timeOf(key); }
  // How many log lines each room keeps for the inspector.
  static constexpr std::size_t kRoomLogLines = 200;

 private:
  Room& activate(const RoomKey& key);
  void create(Room& room, std::optional<RestoredSockets> restore);
  void wake(Room& room);
  std::size_t evictIdle();
  std::size_t hibernateQuiet();
  void releaseMemoryIfQuiet();
  void armSweep();
  void armAlarmTimer();
  Socket& attach(Room& room, std::uint64_t conn, Socket socket);
  void detach(Room& room, std::uint64_t conn);
  void noteSendStatus(std::uint64_t conn, ws::SendStatus status);
  bool overMessageRate(Room& room, Socket& socket);
  std::optional<std::uint64_t> storedSize(Room& room, std::string_view key);
  void deliver(Room& room, Reply reply, const http::Request* request,
               const InternalRequest* internal);
  // Code updates: a live room on an older build.
  bool onOldCode(const Room& room) const {
    return !room.hibernated && room.codeVersion != codeVersion_;
  }
  // Holds `event` until the room of `key` (which waits to move to new code) has moved.
  void holdForUpdate(const RoomKey& key, std::function<void()> event);
  Room* readyRoom(const RoomKey& key);
  void deliverRequest(http::Request&& request, const RoomKey& key, Reply reply);
  // The room had work: when it is on old code, a pass this loop round sees whether it can move.
  void noteActivity(const Room& room);
  void movePass();
  bool moveRoom(Room& room, bool force);
  // Every live room on old code: moved when idle, or anyway once past its delay (the sweep).
  void moveOldRooms();
  void releaseHeld(Room& room);
  void fireAlarm(const RoomKey& key, std::int64_t storedMs);
  // room_host_observe.cc: each room's recent log lines, for the inspector.
  void observeLog();
  void noteClose(Room& room, std::uint64_t conn, std::uint16_t code, std::string_view reason);
  void timeUpgrade(Room& room, const Socket& socket, unsigned status);
  void keepLine(Room& room, std::string line);

  boost::asio::io_context& io_;
  std::unique_ptr<storage::Storage> storage_;
  UserCode& code_;
  HostConfig config_;
  Clock& clock_;
  Turn turn_;
  RoomRegistry rooms_;
  AlarmSchedule alarms_;
  // The room of each socket: sockets live in their Room; this finds them by handle.
  std::unordered_map<std::uint64_t, std::uint32_t> connRoom_;
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, Reply>> requests_;
  boost::asio::steady_timer sweepTimer_;
  boost::asio::steady_timer alarmTimer_;
  std::uint64_t nextConn_ = 1;
  std::uint64_t nextRequest_ = 1;
  std::uint64_t slowConsumerCloses_ = 0;
  ShardMetrics metrics_;
  std::uint64_t stoppedRuns_ = 0;  // runs stopped at the CPU budget or the heap limit
  std::uint64_t limitRefusals_ = 0;  // per-room limits: connections, message rate, storage
  bool createdHibernating_ = false;
  bool stopped_ = false;
  // Code updates: the current build's number, the rooms to look at in the next move pass.
  std::uint32_t codeVersion_ = 0;
  std::unordered_set<std::uint32_t> toMove_;
  bool movePosted_ = false;
  boost::asio::steady_timer moveTimer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Quiet-time memory release: runs so far, and at the last sweep.
  std::uint64_t runsAtLastSweep_ = 0;
  bool memoryToRelease_ = false;
  std::int64_t lastReleaseMs_ = 0;
};

}  // namespace partyd::party
