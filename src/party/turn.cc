#include "party/turn.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>

#include "base/log.h"

namespace partyd::party {

namespace asio = boost::asio;

namespace {
std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The shortest time between two writes of held log lines (see flushLogs).
constexpr std::int64_t kLogGapNs = 10'000'000;
}  // namespace

Turn::Turn(asio::io_context& io, storage::Storage& storage, UserCode& code,
           std::int64_t budgetMs)
    : io_(io), storage_(storage), code_(code), budgetMs_(budgetMs), logTimer_(io) {
  async_ = storage.commitsAsync();
  flushQueue_.setGated(async_);
  // This shard's info lines (one per request and connection) go out once per loop pass.
  log::holdLines([this] { scheduleLogFlush(); });
}

Turn::~Turn() {
  *alive_ = false;
  log::flushHeld();
  log::holdLines(nullptr);
}

void Turn::enter(std::uint32_t room) {
  roomStack_.push_back(room_);
  room_ = room;
  if (depth_ == 0) runStartNs_ = nowNs();
  ++depth_;
  ++runs_;
  code_.beginRun(budgetMs_);
}

void Turn::leave() {
  const bool timedOut = code_.endRun();
  const std::uint32_t room = room_;
  room_ = roomStack_.back();
  roomStack_.pop_back();
  if (timedOut) {
    std::string why = code_.stopReason(budgetMs_);
    code_.afterTimeout();
    // Its JS state may be half updated: the room's object is dropped, as a Durable Object is
    // reset. Not inside this run: the reset itself calls into user code.
    if (onTimeout) {
      asio::post(io_, [this, alive = alive_, room, why] {
        if (*alive) onTimeout(room, why);
      });
    }
  }
  if (--depth_ == 0) {
    handlerSeconds.observeNanos(nowNs() - runStartNs_);
    end();
  }
}

// The end of a run does not write at once: the commit and the writes happen once for every run
// of this pass of the event loop, so a burst of messages costs one commit and one writev per
// socket. Nothing leaves before the commit (the output gate).
void Turn::end() {
  if (readBatch_ > 0) {
    outputHeld_ = true;  // readBatch(false) decides at the end of the read
    return;
  }
  if (flushPosted_) return;
  flushPosted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    flushPosted_ = false;
    commitAndFlush();
  });
}

// The messages of one socket read ran. Their output usually waits for the end of the loop pass,
// so that a pass's runs share one commit and each socket gets one write. When that output is
// frames for a single socket only (an echo, a reply to the sender), and nothing else waits,
// nothing would be shared: it is written now, which saves the loop a second epoll_wait (W1).
void Turn::readBatch(bool begin) {
  if (begin) {
    ++readBatch_;
    return;
  }
  if (--readBatch_ > 0) return;
  if (async_ && !flushQueue_.empty()) outputHeld_ = true;  // pongs, close echoes: gated too
  if (outputHeld_) {
    outputHeld_ = false;
    if (!async_ && !flushPosted_ && outbox_.empty() && !storage_.dirty() &&
        flushQueue_.size() <= 1) {
      flushQueue_.flushAll();
    } else {
      end();
    }
  }
  // Lines logged during the read (scheduleLogFlush left them for now): with the pass's commit
  // and flush when one is posted, else from here.
  if (!flushPosted_) flushLogs();
}

void Turn::release(Reply reply, http::Response response, std::uint32_t room) {
  outbox_.emplace_back(std::move(reply), std::move(response));
  if (async_) outboxRooms_.push_back(room);
  if (depth_ == 0) end();
}

// Held log lines are written at the end of commitAndFlush when one is under way (its responses
// log), at the end of a socket's read when one is under way (what onMessage logged), and
// otherwise by a posted flush.
void Turn::scheduleLogFlush() {
  if (logFlushPosted_ || flushing_ || readBatch_ > 0) return;
  logFlushPosted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    logFlushPosted_ = false;
    flushLogs();
  });
}

// Writes the held lines, unless lines were written less than kLogGapNs ago: then a timer writes
// them at the end of that gap, with whatever else comes meanwhile. A shard that takes one
// connection or request at a time (W2 sequential: each pass is one upgrade and its line) made
// one write(2) per line, and woke the process reading its log as often; now it makes at most
// one per gap, and a line that comes after a quiet gap still goes out at once.
void Turn::flushLogs() {
  if (!log::anyHeld()) return;
  const std::int64_t now = nowNs();
  if (now - lastLogWriteNs_ >= kLogGapNs) {
    log::flushHeld();
    lastLogWriteNs_ = now;
    return;
  }
  if (logTimerArmed_) return;
  logTimerArmed_ = true;
  logTimer_.expires_after(std::chrono::nanoseconds(lastLogWriteNs_ + kLogGapNs - now));
  logTimer_.async_wait([this, alive = alive_](boost::system::error_code) {
    if (!*alive) return;
    logTimerArmed_ = false;
    log::flushHeld();
    lastLogWriteNs_ = nowNs();
  });
}

void Turn::commitAndFlush() {
  if (async_) {
    commitAndFlushAsync();
    return;
  }
  flushing_ = true;
  const std::int64_t started = nowNs();
  if (storage_.dirty()) {
    auto r = storage_.commit();
    storageCommitSeconds.observeNanos(nowNs() - started);
    if (!r) {
      ++commitFailures_;
      log::error("storage commit failed, this turn's writes are lost: " + r.error().message);
      storage_.rollback();
    }
  }
  auto outbox = std::move(outbox_);
  outbox_.clear();
  send(outbox);
  flushQueue_.flushAll();
  commitSeconds.observeNanos(nowNs() - started);
  runTasks();
  flushing_ = false;
  flushLogs();
}

// The engine's own tasks for this thread: GC steps and the memory reducer, and a few that run
// user code (FinalizationRegistry callbacks), which get the handler budget like any other run.
void Turn::runTasks() {
  ++depth_;
  code_.beginRun(budgetMs_);
  code_.runTasks();
  if (code_.endRun()) {
    std::string why = code_.stopReason(budgetMs_);
    code_.afterTimeout();
    log::error("a task running user code (a FinalizationRegistry callback?): " + why);
    asio::post(io_, [this, alive = alive_] {
      if (*alive) code_.afterRoomReset();
    });
  }
  --depth_;
  if (!flushPosted_ && pendingOutput()) end();
}

}  // namespace partyd::party

namespace partyd::party {

void Turn::send(std::vector<std::pair<Reply, http::Response>>& outbox) {
  for (auto& [reply, response] : outbox) {
    if (reply.session) {
      reply.session->respond(std::move(response));
    } else if (reply.fn) {
      reply.fn(std::move(response));
    }
  }
}

// The output gate with a commit over the network (PostgresStorage): the pass's responses and
// frames are sealed and held until the commit that covers every write made before them is done;
// runs go on meanwhile, and their writes go into the next commit. Held output leaves in order.
void Turn::commitAndFlushAsync() {
  flushing_ = true;
  const bool dirty = storage_.dirty();
  Held h;
  // Writes pending: the next commit (started now, or after the one in flight). None: the last
  // one started, which the pass may have read from.
  h.commit = dirty ? commitsStarted_ + 1 : commitsStarted_;
  h.frames = flushQueue_.seal();
  h.outbox = std::move(outbox_);
  outbox_.clear();
  h.rooms = std::move(outboxRooms_);
  outboxRooms_.clear();
  if (!h.frames.empty() || !h.outbox.empty()) held_.push_back(std::move(h));
  if (dirty && !commitInFlight_) startCommit();
  releaseHeld();
  runTasks();
  flushing_ = false;
  flushLogs();
}

void Turn::startCommit() {
  commitInFlight_ = true;
  const std::uint64_t id = ++commitsStarted_;
  const std::int64_t started = nowNs();
  storage_.commitAsync([this, alive = alive_, id, started](Result<void> r) {
    if (!*alive) return;
    storageCommitSeconds.observeNanos(nowNs() - started);
    onCommitDone(id, std::move(r));
  });
}

void Turn::onCommitDone(std::uint64_t id, Result<void> r) {
  commitInFlight_ = false;
  commitsDone_ = id;
  if (!r) {
    ++commitFailures_;
    log::error("storage commit failed: " + r.error().message);
    std::vector<std::uint32_t> reset;
    if (onCommitFailed) reset = onCommitFailed(storage_.fencedRooms(), storage_.lostRooms());
    // Responses of those rooms still held (this commit's and later passes') become errors.
    failHeld(reset, 503, "the room's writes were not stored: " + r.error().message);
  }
  if (!storage_.dirty()) {
    // Output held for a later commit whose writes were all dropped with their rooms (fenced,
    // lost, or disowned: failHeld made their responses errors) has no commit left to wait for.
    for (Held& h : held_) h.commit = std::min(h.commit, commitsDone_);
  }
  releaseHeld();
  if (storage_.dirty() && !commitInFlight_) startCommit();
  if (!flushPosted_ && pendingOutput()) end();
}

void Turn::failHeld(const std::vector<std::uint32_t>& rooms, unsigned status,
                    const std::string& why) {
  if (rooms.empty()) return;
  auto fail = [&](std::uint32_t room, http::Response& response) {
    if (room == 0 || std::find(rooms.begin(), rooms.end(), room) == rooms.end()) return;
    response = http::Response{};
    response.status = status;
    response.body = why;
  };
  for (Held& h : held_) {
    for (std::size_t i = 0; i < h.outbox.size(); ++i) fail(h.rooms[i], h.outbox[i].second);
  }
  for (std::size_t i = 0; i < outbox_.size() && i < outboxRooms_.size(); ++i) {
    fail(outboxRooms_[i], outbox_[i].second);
  }
}

void Turn::releaseHeld() {
  while (!held_.empty() && held_.front().commit <= commitsDone_) {
    Held h = std::move(held_.front());
    held_.pop_front();
    send(h.outbox);
    ws::FlushQueue::release(h.frames);
  }
}

}  // namespace partyd::party
