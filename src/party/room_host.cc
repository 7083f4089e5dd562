#include "party/room_host.h"

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "base/random.h"
#include "http/route.h"
#include "ws/handshake.h"

namespace partyd::party {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

using http::textResponse;

std::string_view view(boost::beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

RoomHost::RoomHost(asio::io_context& io, std::unique_ptr<storage::Storage> storage,
                   UserCode& code, HostConfig config, Clock& clock)
    : io_(io),
      storage_(std::move(storage)),
      code_(code),
      config_(std::move(config)),
      clock_(clock),
      turn_(io, *storage_, code, config_.handlerBudgetMs),
      sweepTimer_(io),
      alarmTimer_(io),
      moveTimer_(io) {
  observeLog();
  // A run stopped at its CPU budget or at the heap limit: its room is reset (sockets 1011,
  // requests 500, with the reason), logged and counted; then the engine may collect.
  turn_.onTimeout = [this](std::uint32_t room, const std::string& why) {
    ++stoppedRuns_;
    std::string count = " (" + std::to_string(stoppedRuns_) + " stopped runs on this shard)";
    if (Room* r = rooms_.byHandle(room)) {
      ++r->stats->handlerTimeouts;
      log::error("[" + r->key.party + "/" + r->key.room + "] " + why + "; the room is reset" +
                 count);
      resetRoom(room, why);
    } else {
      log::error(why + "; it ran for no room (a timer or fetch callback), no room is reset" +
                 count);
    }
    code_.afterRoomReset();
  };
  turn_.onCommitFailed = [this](const auto& fenced, const auto& lost) {
    return resetAfterFailedCommit(fenced, lost);
  };
}

RoomHost::~RoomHost() {
  stopped_ = true;
  *alive_ = false;
  log::setContext(nullptr);
  log::setTap(nullptr);
  // Sockets still open belong to nobody now.
  rooms_.forEach([](Room& room) {
    for (auto& [handle, socket] : room.sockets) socket.conn->setOwner(nullptr, 0);
  });
}

// ---- start and stop -------------------------------------------------------------------------

Result<void> RoomHost::start() {
  if (auto r = loadAlarms(); !r) return r;
  armSweep();
  return {};
}

Result<void> RoomHost::loadAlarms() {
  auto stored = storage_->allAlarms();
  if (!stored) return makeError("reading stored alarms: " + stored.error().message);
  for (const auto& alarm : *stored) alarms_.schedule(alarm.room, alarm.timeMs);
  armAlarmTimer();
  return {};
}

void RoomHost::stop() {
  stopped_ = true;
  sweepTimer_.cancel();
  alarmTimer_.cancel();
  moveTimer_.cancel();
  turn_.commitAndFlush();
  if (storage_->dirty()) (void)storage_->commit();
  log::flushHeld();  // lines that waited for the next gap (Turn::flushLogs) go out now
}

// ---- rooms ----------------------------------------------------------------------------------

Room& RoomHost::activate(const RoomKey& key) {
  auto [room, created] = rooms_.getOrCreate(key, clock_.monotonicMs());
  if (created) {
    room->stats = &metrics_.party(key.party);
    room->createdMs = clock_.monotonicMs();
    create(*room, std::nullopt);
  } else if (room->hibernated) {
    wake(*room);
  }
  return *room;
}

void RoomHost::create(Room& room, std::optional<RestoredSockets> restore) {
  room.hibernated = false;
  room.codeVersion = codeVersion_;
  room.moveByMs = 0;
  createdHibernating_ = false;
  ++room.stats->roomsActivated;
  turn_.run(room.handle, [&] { code_.createRoom(room, std::move(restore)); });
  room.hibernate = createdHibernating_;
}

// Brings a hibernated room back: constructor and onStart run again, with its sockets restored.
void RoomHost::wake(Room& room) {
  RestoredSockets restore;
  restore.reserve(room.sockets.size());
  for (auto& [handle, socket] : room.sockets) {
    if (socket.stash.empty()) continue;
    restore.emplace_back(handle, std::move(socket.stash));
    socket.stash = std::string();
  }
  rooms_.touch(room, clock_.monotonicMs());
  create(room, std::move(restore));
}

Socket& RoomHost::attach(Room& room, std::uint64_t conn, Socket socket) {
  connRoom_.emplace(conn, room.handle);
  return room.sockets.emplace(conn, std::move(socket)).first->second;
}

void RoomHost::detach(Room& room, std::uint64_t conn) {
  room.sockets.erase(conn);
  connRoom_.erase(conn);
}

Socket* RoomHost::findSocket(std::uint64_t conn) {
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return nullptr;
  Room* room = rooms_.byHandle(it->second);
  if (!room) return nullptr;
  auto s = room->sockets.find(conn);
  return s == room->sockets.end() ? nullptr : &s->second;
}

void RoomHost::resetRoom(std::uint32_t handle, const std::string& why, std::uint16_t closeCode,
                         unsigned status) {
  Room* room = rooms_.byHandle(handle);
  if (!room || stopped_) return;
  ++room->stats->roomResets;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.first == handle) {
      turn_.release(std::move(it->second.second), textResponse(status, why), it->second.first);
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
  auto sockets = std::move(room->sockets);
  room->sockets.clear();
  for (auto& [conn, socket] : sockets) {
    connRoom_.erase(conn);
    socket.conn->setOwner(nullptr, 0);
    if (socket.pending()) {
      socket.conn->reject("HTTP/1.1 " + std::to_string(status) +
                          " Error\r\ncontent-type: text/plain\r\ncontent-length: " +
                          std::to_string(why.size()) + "\r\nconnection: close\r\n\r\n" + why);
    } else {
      socket.conn->close(closeCode, why);
      ++room->stats->connectionsClosed[closeClass(closeCode)];
    }
  }
  room->busy = 0;
  room->firingAlarm.reset();
  if (!room->hibernated) turn_.run(0, [&] { code_.dropRoom(handle); });
  // The next event builds a new object (constructor and onStart), as after hibernation.
  room->hibernated = true;
  releaseHeld(*room);
}

void RoomHost::resetForNewEngine(const std::string& why, std::uint16_t closeCode,
                                 unsigned status) {
  for (auto it = requests_.begin(); it != requests_.end(); it = requests_.erase(it)) {
    turn_.release(std::move(it->second.second), textResponse(status, why), it->second.first);
  }
  std::vector<std::uint32_t> handles;
  rooms_.forEach([&](Room& room) { handles.push_back(room.handle); });
  for (std::uint32_t h : handles) {
    Room* room = rooms_.byHandle(h);
    for (auto it = room->sockets.begin(); it != room->sockets.end();) {
      Socket& socket = it->second;
      if (room->hibernated && !socket.pending() && !socket.stash.empty()) {
        ++it;
        continue;
      }
      connRoom_.erase(it->first);
      socket.conn->setOwner(nullptr, 0);
      if (socket.pending()) {
        socket.conn->reject("HTTP/1.1 " + std::to_string(status) +
                            " Error\r\ncontent-type: text/plain\r\ncontent-length: " +
                            std::to_string(why.size()) + "\r\nconnection: close\r\n\r\n" + why);
      } else {
        socket.conn->close(closeCode, why);
      }
      it = room->sockets.erase(it);
    }
    room->busy = 0;
    if (room->firingAlarm) alarms_.schedule(room->key, clock_.wallMs(), *room->firingAlarm);
    room->firingAlarm.reset();
    room->hibernated = true;
    if (room->sockets.empty()) rooms_.erase(h);
  }
  armAlarmTimer();
  turn_.commitAndFlush();
}

void RoomHost::resetAll(const std::string& why, std::uint16_t closeCode, unsigned status) {
  std::vector<std::uint32_t> handles;
  rooms_.forEach([&](Room& room) { handles.push_back(room.handle); });
  for (std::uint32_t h : handles) {
    resetRoom(h, why, closeCode, status);
    rooms_.erase(h);
  }
  turn_.commitAndFlush();
}

// ---- delivery -------------------------------------------------------------------------------

void RoomHost::upgrade(std::shared_ptr<http::Session> session, http::Request&& request,
                       const RoomKey& key) {
  std::string_view clientKey = view(request[bhttp::field::sec_websocket_key]);
  std::string_view version = view(request[bhttp::field::sec_websocket_version]);
  if (!ws::isValidClientKey(clientKey) || version != "13") {
    http::Response r = textResponse(400, "Bad WebSocket upgrade: need Sec-WebSocket-Key and "
                                         "Sec-WebSocket-Version: 13\n");
    if (version != "13") {
      r.status = 426;
      r.headers.emplace_back("sec-websocket-version", "13");
    }
    session->respond(std::move(r), false);
    return;
  }
  if (Room* waiting = rooms_.find(key); waiting && onOldCode(*waiting)) {
    auto held = std::make_shared<http::Request>(std::move(request));
    holdForUpdate(key, [this, session, held, key] { upgrade(session, std::move(*held), key); });
    return;
  }
  if (config_.maxRoomConnections > 0) {
    Room* existing = rooms_.find(key);
    if (existing && existing->sockets.size() >= config_.maxRoomConnections) {
      // Refused after the handshake, so that a browser sees the code and the reason; the room's
      // code never hears of it.
      ++limitRefusals_;
      std::string why = "the room has " + std::to_string(config_.maxRoomConnections) +
                        " connections, its limit (--max-room-connections)";
      log::warn("[" + key.party + "/" + key.room + "] closed a new WebSocket with 1013: " + why);
      std::string leftover = session->takeLeftover();
      auto conn = std::make_shared<ws::Connection>(session->takePolled(), std::move(leftover),
                                                   config_.wsLimits, &turn_.flushQueue());
      conn->open(ws::buildSwitchingProtocols(ws::acceptKey(clientKey), ""));
      conn->close(1013, why);
      turn_.end();  // the close frame goes out with this pass's flush
      return;
    }
  }
  Room& room = activate(key);
  std::string leftover = session->takeLeftover();
  auto conn = std::make_shared<ws::Connection>(session->takePolled(), std::move(leftover),
                                               config_.wsLimits, &turn_.flushQueue());
  std::uint64_t handle = nextConn_++;
  conn->setOwner(this, handle);
  std::string id = http::queryParam(view(request.target()), "_pk").value_or("");
  if (id.empty()) id = randomUuid();
  Socket socket{conn, ws::acceptKey(clientKey), {}, clock_.monotonicMs(), id};
  socket.requestedAt = session->requestStarted();
  attach(room, handle, std::move(socket));
  room.busy++;

  turn_.run(room.handle, [&] { code_.connect(room, handle, id, request); });
}

void RoomHost::request(std::shared_ptr<http::Session> session, http::Request&& request,
                       const RoomKey& key) {
  deliverRequest(std::move(request), key, Reply{std::move(session), nullptr});
}

void RoomHost::request(http::Request&& request, const RoomKey& key,
                       std::function<void(http::Response)> reply) {
  deliverRequest(std::move(request), key, Reply{nullptr, std::move(reply)});
}

// The room an event for `key` goes to, made or woken if need be; null while the room waits for a
// code update (the caller holds its event with holdForUpdate). A live room is used as found: one
// lookup of its key per event (W6 over 1000 rooms had two at 2.5% of the CPU).
Room* RoomHost::readyRoom(const RoomKey& key) {
  Room* room = rooms_.find(key);
  if (room && onOldCode(*room)) return nullptr;
  if (!room || room->hibernated) room = &activate(key);
  return room;
}

void RoomHost::deliverRequest(http::Request&& request, const RoomKey& key, Reply reply) {
  Room* room = readyRoom(key);
  if (!room) {
    auto held = std::make_shared<std::pair<http::Request, Reply>>(std::move(request),
                                                                  std::move(reply));
    holdForUpdate(key, [this, held, key] {
      deliverRequest(std::move(held->first), key, std::move(held->second));
    });
    return;
  }
  deliver(*room, std::move(reply), &request, nullptr);
}

void RoomHost::request(const RoomKey& key, InternalRequest request,
                       std::function<void(http::Response)> reply) {
  Room* room = readyRoom(key);
  if (!room) {
    auto held = std::make_shared<InternalRequest>(std::move(request));
    holdForUpdate(key, [this, held, key, reply = std::move(reply)]() mutable {
      this->request(key, std::move(*held), std::move(reply));
    });
    return;
  }
  deliver(*room, Reply{nullptr, std::move(reply)}, nullptr, &request);
}

void RoomHost::deliver(Room& room, Reply reply, const http::Request* request,
                       const InternalRequest* internal) {
  room.busy++;
  std::uint64_t handle = nextRequest_++;
  requests_.emplace(handle, std::make_pair(room.handle, std::move(reply)));
  turn_.run(room.handle, [&] {
    if (request) {
      code_.request(room, handle, *request);
    } else {
      code_.request(room, handle, *internal);
    }
  });
}

void RoomHost::accept(std::uint64_t conn, std::uint16_t closeCode, std::string_view reason) {
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return;
  Room* room = rooms_.byHandle(it->second);
  if (!room) return;
  auto s = room->sockets.find(conn);
  if (s == room->sockets.end() || !s->second.pending()) return;
  if (room->busy > 0) room->busy--;
  noteActivity(*room);
  s->second.conn->open(ws::buildSwitchingProtocols(s->second.acceptKey, ""));
  s->second.acceptKey = std::string();
  ++room->stats->connectionsOpened;
  timeUpgrade(*room, s->second, 101);
  if (log::enabled(log::Level::kInfo)) {
    log::Fields fields{room->key.party, room->key.room, "connect", 101};
    log::write(log::Level::kInfo,
               "WS /parties/" + room->key.party + "/" + room->key.room + " 101" +
                   (closeCode ? " then close " + std::to_string(closeCode) : std::string()),
               fields);
  }
  if (closeCode != 0) s->second.conn->close(closeCode, reason);
}

// An upgrade answered (101, or refused after its room heard of it): its time from the request's
// parse, for /metrics (the count is the connection's, not an HTTP response's).
void RoomHost::timeUpgrade(Room& room, const Socket& socket, unsigned status) {
  if (!room.stats || socket.requestedAt == std::chrono::steady_clock::time_point{}) return;
  room.stats->http
      .seconds[static_cast<std::size_t>(http::RequestKind::kUpgrade)]
              [http::ResponseCounts::statusClass(status)]
      .observeNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - socket.requestedAt)
                        .count());
}

void RoomHost::refuse(std::uint64_t conn, unsigned status, std::string_view body) {
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return;
  Room* room = rooms_.byHandle(it->second);
  if (!room) return;
  auto s = room->sockets.find(conn);
  if (s == room->sockets.end() || !s->second.pending()) return;
  std::shared_ptr<ws::Connection> c = s->second.conn;
  timeUpgrade(*room, s->second, status);
  c->setOwner(nullptr, 0);
  detach(*room, conn);
  if (room->busy > 0) room->busy--;
  noteActivity(*room);
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(status));
  c->reject("HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) +
            "\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: " +
            std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" + std::string(body));
}

void RoomHost::respond(std::uint64_t req, http::Response response) {
  auto it = requests_.find(req);
  if (it == requests_.end()) return;
  if (Room* room = rooms_.byHandle(it->second.first)) {
    if (room->busy > 0) room->busy--;
    rooms_.touch(*room, clock_.monotonicMs());
    noteActivity(*room);
  }
  turn_.release(std::move(it->second.second), std::move(response), it->second.first);
  requests_.erase(it);
}

// A send that overflows a socket's queue closes it with 1008 (ws::Connection does): counted and
// said once per socket, so that an operator can see which clients read too slowly.
void RoomHost::noteSendStatus(std::uint64_t conn, ws::SendStatus status) {
  if (status != ws::SendStatus::kOverflow) return;
  ++slowConsumerCloses_;
  std::string where;
  if (auto it = connRoom_.find(conn); it != connRoom_.end()) {
    if (Room* room = rooms_.byHandle(it->second)) {
      ++room->stats->slowConsumerCloses;
      where = " of " + room->key.party + "/" + room->key.room;
    }
  }
  log::warn("closed a WebSocket" + where + " with 1008: its client reads too slowly (more than " +
            std::to_string(config_.wsLimits.maxQueuedBytes) + " bytes queued; " +
            std::to_string(slowConsumerCloses_) + " such closes on this shard)");
}

ws::SendStatus RoomHost::send(std::uint64_t conn, const ws::Frame& frame) {
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return ws::SendStatus::kDropped;
  Room* room = rooms_.byHandle(it->second);
  if (!room) return ws::SendStatus::kDropped;
  auto s = room->sockets.find(conn);
  if (s == room->sockets.end()) return ws::SendStatus::kDropped;
  ws::SendStatus status = s->second.conn->send(frame);
  if (status == ws::SendStatus::kQueued) {
    ++room->messagesOut;
    ++room->stats->messagesOut;
    room->stats->bytesOut += frame->size();
  }
  noteSendStatus(conn, status);
  return status;
}

std::size_t RoomHost::broadcast(std::uint32_t handle, const ws::Frame& frame,
                                const std::vector<std::uint64_t>& exclude) {
  Room* room = rooms_.byHandle(handle);
  if (!room) return 0;
  std::size_t dropped = 0, sent = 0;
  std::vector<std::uint64_t> overflowed;
  // One encoding, shared by every socket of the room.
  for (auto& [conn, socket] : room->sockets) {
    if (!exclude.empty() && std::find(exclude.begin(), exclude.end(), conn) != exclude.end()) {
      continue;
    }
    ws::SendStatus status = socket.conn->send(frame);
    if (status == ws::SendStatus::kQueued) {
      ++sent;
      continue;
    }
    ++dropped;
    if (status == ws::SendStatus::kOverflow) overflowed.push_back(conn);
  }
  room->messagesOut += sent;
  room->stats->messagesOut += sent;
  room->stats->bytesOut += sent * frame->size();
  for (std::uint64_t conn : overflowed) noteSendStatus(conn, ws::SendStatus::kOverflow);
  return dropped;
}

void RoomHost::close(std::uint64_t conn, std::uint16_t code, std::string_view reason) {
  if (Socket* socket = findSocket(conn)) socket->conn->close(code, reason);
}

void RoomHost::onWsMessage(std::uint64_t conn, ws::Opcode op, std::string_view payload) {
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return;
  Room* room = rooms_.byHandle(it->second);
  if (!room) return;
  ++room->messagesIn;
  ++room->stats->messagesIn;
  room->stats->bytesIn += payload.size();
  rooms_.touch(*room, clock_.monotonicMs());
  if (config_.maxMessagesPerSecond > 0) {
    auto s = room->sockets.find(conn);
    if (s != room->sockets.end() && overMessageRate(*room, s->second)) return;
  }
  if (room->hibernated) {
    wake(*room);
    if (!findSocket(conn)) return;
  }
  turn_.run(room->handle, [&] { code_.message(*room, conn, op, payload); });
  noteActivity(*room);
}

// --max-messages-per-second: each socket has a bucket of a second's worth of messages, refilled
// continuously; a message that finds it empty closes the socket with 1008 and is not delivered.
bool RoomHost::overMessageRate(Room& room, Socket& socket) {
  const double rate = config_.maxMessagesPerSecond;
  const std::int64_t now = clock_.monotonicMs();
  if (socket.tokens < 0) {
    socket.tokens = rate;
  } else {
    socket.tokens = std::min(rate, socket.tokens + static_cast<double>(now - socket.tokensAtMs) *
                                                       rate / 1000.0);
  }
  socket.tokensAtMs = now;
  if (socket.tokens >= 1) {
    socket.tokens -= 1;
    return false;
  }
  ++limitRefusals_;
  std::string why = "more than " + std::to_string(static_cast<std::uint64_t>(rate)) +
                    " messages per second (--max-messages-per-second)";
  log::warn("[" + room.key.party + "/" + room.key.room + "] closed a WebSocket with 1008: " + why);
  socket.conn->close(1008, why);
  return true;
}

std::optional<std::uint64_t> RoomHost::storedSize(Room& room, std::string_view key) {
  auto old = storage_->get(room.key, key);
  if (!old.ok() || !old->has_value()) return std::nullopt;
  return key.size() + (*old)->size();
}

bool RoomHost::storageFits(Room& room,
                           const std::vector<std::pair<std::string_view, std::size_t>>& writes,
                           std::string* why) {
  const std::uint64_t limit = config_.maxRoomStorageBytes;
  if (limit == 0) return true;
  if (!room.storageBytes) {
    std::uint64_t total = 0;
    if (auto all = storage_->list(room.key, {}); all.ok()) {
      for (const auto& [k, v] : *all) total += k.size() + v.size();
    }
    room.storageBytes = total;
  }
  std::int64_t delta = 0;
  for (const auto& [key, valueBytes] : writes) {
    delta += static_cast<std::int64_t>(key.size() + valueBytes);
    delta -= static_cast<std::int64_t>(storedSize(room, key).value_or(0));
  }
  const std::int64_t after = static_cast<std::int64_t>(*room.storageBytes) + delta;
  if (delta > 0 && after > static_cast<std::int64_t>(limit)) {
    ++limitRefusals_;
    *why = "this write would make the room's storage " + std::to_string(after) +
           " bytes, over its limit of " + std::to_string(limit) + " (--max-room-storage)";
    log::warn("[" + room.key.party + "/" + room.key.room + "] refused a storage write: " + *why);
    return false;
  }
  room.storageBytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, after));
  return true;
}

void RoomHost::storageDeleting(Room& room, std::string_view key) {
  if (config_.maxRoomStorageBytes == 0 || !room.storageBytes) return;
  std::uint64_t old = storedSize(room, key).value_or(0);
  *room.storageBytes -= std::min(old, *room.storageBytes);
}

void RoomHost::onWsClosed(std::uint64_t conn, std::uint16_t code, std::string_view reason,
                          bool clean) {
  if (turn_.running()) {
    // A close that happens while user code runs (a send that overflowed the queue) is
    // delivered later, never inside that run.
    asio::post(io_, [this, conn, code, reason = std::string(reason), clean] {
      onWsClosed(conn, code, reason, clean);
    });
    return;
  }
  auto it = connRoom_.find(conn);
  if (it == connRoom_.end()) return;
  Room* room = rooms_.byHandle(it->second);
  if (!room) {
    connRoom_.erase(it);
    return;
  }
  if (room->hibernated && !stopped_) {
    wake(*room);  // onClose runs on a live object, as after any other wake
    if (!findSocket(conn)) return;
  }
  bool wasPending = room->sockets.at(conn).pending();
  if (!wasPending) {
    ++room->stats->connectionsClosed[closeClass(code)];
    noteClose(*room, conn, code, reason);
  }
  detach(*room, conn);
  if (wasPending && room->busy > 0) room->busy--;
  rooms_.touch(*room, clock_.monotonicMs());
  if (stopped_) return;
  turn_.run(room->handle, [&] { code_.close(*room, conn, code, reason, clean); });
  noteActivity(*room);
}

// ---- hibernation and eviction ---------------------------------------------------------------

void RoomHost::stash(std::uint64_t conn, std::string bytes) {
  if (Socket* socket = findSocket(conn)) {
    socket->stash = std::move(bytes);
    socket->conn->trim();
  }
}

void RoomHost::roomHibernated(std::uint32_t handle) {
  if (Room* room = rooms_.byHandle(handle)) {
    if (!room->hibernated) ++room->stats->roomsHibernated;
    room->hibernated = true;
  }
}

std::size_t RoomHost::hibernateQuiet() {
  auto quiet = rooms_.hibernationCandidates(clock_.monotonicMs(), config_.hibernateAfterMs);
  for (std::uint32_t handle : quiet) {
    Room* room = rooms_.byHandle(handle);
    turn_.run(handle, [&] { code_.hibernate(*room, HibernateMode::kQuiet); });
    if (room->hibernated) releaseHeld(*room);
  }
  return quiet.size();
}

std::size_t RoomHost::evictIdle() {
  auto idle = rooms_.idleRooms(clock_.monotonicMs(), config_.idleTimeoutMs);
  for (std::uint32_t handle : idle) {
    Room* room = rooms_.byHandle(handle);
    ++room->stats->roomsEvicted;
    if (!room->hibernated) turn_.run(0, [&] { code_.dropRoom(handle); });
    RoomKey key = room->key;
    rooms_.erase(handle);
    if (config_.roomGone && !alarms_.timeOf(key)) config_.roomGone(key);
  }
  return idle.size();
}

void RoomHost::sweep() {
  if (evictIdle() + hibernateQuiet() > 0) memoryToRelease_ = true;
  moveOldRooms();
  releaseMemoryIfQuiet();
  turn_.runTasks();
}

void RoomHost::armSweep() {
  auto period = std::chrono::milliseconds(std::max<std::int64_t>(
      50, std::min({std::int64_t{1000}, config_.idleTimeoutMs / 2,
                    config_.hibernateAfterMs / 2})));
  sweepTimer_.expires_after(period);
  sweepTimer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    sweep();
    armSweep();
  });
}

// Rooms that left (evicted or hibernated) leave garbage in the engine's heap and holes in
// malloc's, and neither gives pages back to the system on its own soon. Once the shard has had no
// event for a whole sweep period, the engine gives them back: the point of hibernation is that
// idle sockets cost little memory (W4). Under load this never runs; V8's own GC does.
void RoomHost::releaseMemoryIfQuiet() {
  const bool quiet = turn_.runs() == runsAtLastSweep_;
  runsAtLastSweep_ = turn_.runs();
  if (!memoryToRelease_ || !quiet) return;
  // A full collection costs milliseconds on a big heap: at most one per kMinGap, however often
  // rooms leave a mostly idle shard.
  constexpr std::int64_t kMinGapMs = 10'000;
  const std::int64_t now = clock_.monotonicMs();
  if (lastReleaseMs_ != 0 && now - lastReleaseMs_ < kMinGapMs) return;
  lastReleaseMs_ = now;
  memoryToRelease_ = false;
  code_.releaseMemory();
}

// ---- alarms ---------------------------------------------------------------------------------

void RoomHost::setAlarm(Room& room, std::int64_t timeMs) {
  alarms_.schedule(room.key, timeMs);
  armAlarmTimer();
}

void RoomHost::deleteAlarm(Room& room) {
  alarms_.cancel(room.key);
  armAlarmTimer();
}

void RoomHost::armAlarmTimer() {
  auto next = alarms_.next();
  alarmTimer_.cancel();
  if (!next || stopped_) return;
  std::int64_t delay = std::max<std::int64_t>(0, *next - clock_.wallMs());
  alarmTimer_.expires_after(std::chrono::milliseconds(delay));
  alarmTimer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    fireDueAlarms();
  });
}

void RoomHost::fireDueAlarms() {
  for (auto& due : alarms_.takeDue(clock_.wallMs())) fireAlarm(due.key, due.storedMs);
  armAlarmTimer();
}

void RoomHost::fireAlarm(const RoomKey& key, std::int64_t storedMs) {
  Room* ready = readyRoom(key);
  if (!ready) {
    holdForUpdate(key, [this, key, storedMs] { fireAlarm(key, storedMs); });
    return;
  }
  Room& room = *ready;
  room.firingAlarm = storedMs;
  room.busy++;
  ++room.stats->alarmRuns;
  turn_.run(room.handle, [&] { code_.alarm(room, room.alarmRetries); });
}

void RoomHost::alarmDone(std::uint32_t handle, bool ok) {
  Room* room = rooms_.byHandle(handle);
  if (!room || !room->firingAlarm) return;
  if (room->busy > 0) room->busy--;
  rooms_.touch(*room, clock_.monotonicMs());
  noteActivity(*room);
  std::int64_t fired = *room->firingAlarm;
  room->firingAlarm.reset();
  auto stored = storage_->getAlarm(room->key);
  bool replaced = stored.ok() && stored->has_value() && **stored != fired;
  if (ok || room->alarmRetries >= AlarmSchedule::kMaxRetries) {
    if (!ok) {
      ++room->stats->alarmFailures;
      log::error("onAlarm of " + room->key.party + "/" + room->key.room + " failed " +
                 std::to_string(AlarmSchedule::kMaxRetries + 1) + " times; the alarm is dropped");
    }
    room->alarmRetries = 0;
    if (!replaced && stored.ok() && stored->has_value()) (void)storage_->deleteAlarm(room->key);
    return;
  }
  if (replaced) {
    room->alarmRetries = 0;
    return;
  }
  // At least once, as in Durable Objects: retry with exponential backoff.
  std::int64_t backoff = AlarmSchedule::retryDelayMs(room->alarmRetries);
  room->alarmRetries++;
  ++room->stats->alarmRetries;
  alarms_.schedule(room->key, clock_.wallMs() + backoff, fired);
  armAlarmTimer();
}

}  // namespace partyd::party
