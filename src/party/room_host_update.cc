// RoomHost's code updates: a new build swapped in while rooms are live (a `partyd dev` rebuild, a
// deploy, a rollback). The build is loaded and checked before anything switches; then each live
// room moves to it at its next idle point: a room whose party hibernates drops its object as when
// it hibernates and keeps every socket, the others close theirs with 1012. See
// docs/design-notes.md ("Code updates").
#include <boost/asio/post.hpp>

#include <chrono>

#include "base/log.h"
#include "party/room_host.h"

namespace partyd::party {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kWhy = "the server is restarting with new code";

std::string roomName(const Room& room) { return room.key.party + "/" + room.key.room; }

}  // namespace

Result<void> RoomHost::prepareUpdate(const CodeBundle& next) {
  if (turn_.running()) return makeError("a code update cannot start inside a run of user code");
  if (stopped_) return makeError("the shard is stopping");
  return code_.prepareCode(next);
}

void RoomHost::abandonUpdate() { code_.abandonCode(); }

Result<void> RoomHost::updateCode(const CodeBundle& next) {
  if (auto r = prepareUpdate(next); !r) return r;
  commitUpdate();
  return {};
}

void RoomHost::commitUpdate() {
  code_.commitCode();
  ++codeVersion_;
  const std::int64_t moveBy = clock_.monotonicMs() + config_.codeUpdateDelayMs;
  std::size_t live = 0;
  rooms_.forEach([&](Room& room) {
    if (!onOldCode(room)) return;
    // A room still waiting from an earlier update keeps that update's bound.
    if (room.moveByMs == 0) room.moveByMs = moveBy;
    toMove_.insert(room.handle);
    ++live;
  });
  if (live == 0) return;
  log::info("new code: " + std::to_string(live) + " live room(s) move to it when idle (at most " +
            std::to_string(config_.codeUpdateDelayMs) + " ms)");
  movePass();
  moveTimer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(
      0, config_.codeUpdateDelayMs)));
  moveTimer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive || stopped_) return;
    moveOldRooms();
  });
}

std::size_t RoomHost::roomsOnOldCode() {
  std::size_t n = 0;
  rooms_.forEach([&](Room& room) {
    if (onOldCode(room)) ++n;
  });
  return n;
}

void RoomHost::holdForUpdate(const RoomKey& key, std::function<void()> event) {
  Room* room = rooms_.find(key);
  if (!room) return;
  room->held.push_back(std::move(event));
  noteActivity(*room);
}

void RoomHost::noteActivity(const Room& room) {
  if (!onOldCode(room) || stopped_) return;
  toMove_.insert(room.handle);
  if (movePosted_) return;
  movePosted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    movePosted_ = false;
    movePass();
  });
}

// The rooms that had work since the last pass (or all of them, right after an update): those
// with nothing in flight try to move. Runs between runs of user code, never inside one.
void RoomHost::movePass() {
  if (stopped_) return;
  if (turn_.running()) {
    movePosted_ = true;
    asio::post(io_, [this, alive = alive_] {
      if (!*alive) return;
      movePosted_ = false;
      movePass();
    });
    return;
  }
  // Whatever the runs so far sent goes out (after its commit) before any socket's close frame.
  if (turn_.pendingOutput()) turn_.commitAndFlush();
  auto handles = std::move(toMove_);
  toMove_.clear();
  const std::int64_t now = clock_.monotonicMs();
  for (std::uint32_t handle : handles) {
    Room* room = rooms_.byHandle(handle);
    if (room && onOldCode(*room)) moveRoom(*room, room->moveByMs != 0 && now >= room->moveByMs);
  }
  if (turn_.pendingOutput()) turn_.commitAndFlush();
}

void RoomHost::moveOldRooms() {
  if (codeVersion_ == 0 || stopped_ || turn_.running()) return;  // no update yet
  std::vector<std::uint32_t> old;
  rooms_.forEach([&](Room& room) {
    if (onOldCode(room)) old.push_back(room.handle);
  });
  if (old.empty()) return;
  if (turn_.pendingOutput()) turn_.commitAndFlush();
  const std::int64_t now = clock_.monotonicMs();
  for (std::uint32_t handle : old) {
    Room* room = rooms_.byHandle(handle);
    if (room && onOldCode(*room)) moveRoom(*room, room->moveByMs != 0 && now >= room->moveByMs);
  }
  if (turn_.pendingOutput()) turn_.commitAndFlush();
}

// Moves one live room on old code to the new code; false when it is not idle yet. `force`: its
// delay has passed, so it moves whatever it is doing.
bool RoomHost::moveRoom(Room& room, bool force) {
  if (!force && room.busy > 0) return false;
  const std::uint32_t handle = room.handle;
  const std::string why(kWhy);
  if (force) {
    log::warn("[" + roomName(room) + "] still busy " + std::to_string(config_.codeUpdateDelayMs) +
              " ms after a code update: moved to the new code anyway");
    // An alarm in flight is retried (on the new code), as after a failed run.
    if (room.firingAlarm) alarmDone(handle, false);
  }

  if (!room.hibernate) {
    // A party that does not hibernate: its object goes once idle, its sockets close with 1012
    // (Service Restart), on which partysocket reconnects, to the new code.
    if (!force) {
      turn_.run(handle, [&] { code_.hibernate(room, HibernateMode::kIdle); });
      if (!room.hibernated) return false;  // a handler still awaits something
    }
    resetRoom(handle, why, 1012, 503);
    return true;
  }

  // A party that hibernates: its object goes as when it hibernates; its sockets stay open, each
  // with its id, tags, state and attachment, and the next event wakes it on the new code.
  if (force) {
    for (auto it = requests_.begin(); it != requests_.end();) {
      if (it->second.first == handle) {
        turn_.release(std::move(it->second.second), http::textResponse(503, why),
                      it->second.first);
        it = requests_.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<std::uint64_t> pending;
    for (auto& [conn, socket] : room.sockets) {
      if (socket.pending()) pending.push_back(conn);
    }
    for (std::uint64_t conn : pending) refuse(conn, 503, why);
    room.busy = 0;
  }
  turn_.run(handle, [&] {
    code_.hibernate(room, force ? HibernateMode::kForce : HibernateMode::kIdle);
  });
  if (!room.hibernated) {
    if (!force) return false;
    turn_.run(0, [&] { code_.dropRoom(handle); });
    room.hibernated = true;
  }
  // A socket the object could not stash has nothing to wake with: it closes as a plain room's.
  std::vector<std::uint64_t> lost;
  for (auto& [conn, socket] : room.sockets) {
    if (socket.stash.empty()) lost.push_back(conn);
  }
  for (std::uint64_t conn : lost) {
    std::shared_ptr<ws::Connection> c = room.sockets.at(conn).conn;
    c->setOwner(nullptr, 0);
    detach(room, conn);
    c->close(1012, why);
  }
  releaseHeld(room);
  return true;
}

// The events held while the room waited: delivered once it moved, on the new code, in order.
void RoomHost::releaseHeld(Room& room) {
  if (room.held.empty()) return;
  auto events = std::move(room.held);
  room.held.clear();
  asio::post(io_, [this, alive = alive_, events = std::move(events)] {
    if (!*alive || stopped_) return;
    for (const auto& event : events) event();
  });
}

}  // namespace partyd::party
