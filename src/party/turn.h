// Turn is the output gate in one place. Every call into user code is a run: arm the deadline,
// call, drain microtasks, disarm. Runs leave frames (in the flush queue) and responses (in the
// outbox); at the end of the loop pass the storage writes of every run of that pass commit in one
// transaction, and only then do the responses and frames go out, one writev per socket. A run
// stopped at its deadline is reported to onTimeout, which resets the room.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "http/session.h"
#include "party/user_code.h"
#include "storage/storage.h"
#include "ws/connection.h"

namespace partyd::party {

// Where a response goes: a client's HTTP session, or another room's party-stub fetch.
struct Reply {
  std::shared_ptr<http::Session> session;
  std::function<void(http::Response)> fn;
};

class Turn {
 public:
  Turn(boost::asio::io_context& io, storage::Storage& storage, UserCode& code,
       std::int64_t budgetMs);
  ~Turn();

  // Runs `call` (which calls into user code) for `room` (0: none) as one run.
  template <typename F>
  void run(std::uint32_t room, F&& call) {
    enter(room);
    call();
    leave();
  }
  bool running() const { return depth_ > 0; }
  std::uint32_t room() const { return room_; }  // whose run this is, for console output
  std::int64_t budgetMs() const { return budgetMs_; }
  std::uint64_t runs() const { return runs_; }

  ws::FlushQueue& flushQueue() { return flushQueue_; }
  // Holds a response until the pass's commit. `room` is the room the request was for (0: none):
  // if a commit fails, that room's held responses become errors (failHeld). It is the request's
  // room, not the run's: a response made in a timer's or a fetch's callback runs as no room.
  void release(Reply reply, http::Response response, std::uint32_t room);
  // A socket's read begins or ends: output waits for the end of the read (see .cc).
  void readBatch(bool begin);
  // Schedules the commit and flush for the end of this loop pass.
  void end();
  // Commits the pass's writes, then lets its responses and frames out.
  void commitAndFlush();
  // The engine's own tasks, as a run of no room.
  void runTasks();
  bool pendingOutput() const {
    return !flushQueue_.empty() || !outbox_.empty() || (storage_.dirty() && !commitInFlight_);
  }
  std::size_t commitFailures() const { return commitFailures_; }

  std::function<void(std::uint32_t room, const std::string& why)> onTimeout;
  // An asynchronous commit failed: `fenced` rooms lost their owner, `lost` rooms their writes.
  // RoomHost resets them (dropping their unsent frames) and returns their handles; responses of
  // those rooms still held become errors. Runs before the held output of that commit is released.
  std::function<std::vector<std::uint32_t>(const std::vector<storage::RoomKey>& fenced,
                                           const std::vector<storage::RoomKey>& lost)>
      onCommitFailed;
  std::size_t commitsInFlight() const { return commitInFlight_ ? 1 : 0; }
  // Responses of `rooms` still waiting for a commit (async only) become `status` with `why`:
  // their writes will not be stored, so nothing of them may be acknowledged.
  void failHeld(const std::vector<std::uint32_t>& rooms, unsigned status, const std::string& why);

  // For /metrics: each outermost run's time, each commitAndFlush's, and its storage commit's.
  metrics::Histogram handlerSeconds, commitSeconds, storageCommitSeconds;

 private:
  void enter(std::uint32_t room);
  void leave();
  void scheduleLogFlush();
  void flushLogs();
  // Asynchronous commits (storage.commitsAsync()): the pass's output waits for the commit that
  // covers every write made before it.
  void commitAndFlushAsync();
  void startCommit();
  void onCommitDone(std::uint64_t id, Result<void> r);
  void releaseHeld();
  void send(std::vector<std::pair<Reply, http::Response>>& outbox);
  struct Held {
    std::uint64_t commit;  // released when this commit is done
    ws::FlushQueue::Sealed frames;
    std::vector<std::pair<Reply, http::Response>> outbox;
    std::vector<std::uint32_t> rooms;  // the room of each response (0: none)
    bool failed = false;
  };
  std::deque<Held> held_;
  std::vector<std::uint32_t> outboxRooms_;  // async only
  std::uint64_t commitsStarted_ = 0, commitsDone_ = 0;
  bool commitInFlight_ = false;
  bool async_ = false;

  boost::asio::io_context& io_;
  storage::Storage& storage_;
  UserCode& code_;
  std::int64_t budgetMs_;
  ws::FlushQueue flushQueue_;
  std::vector<std::pair<Reply, http::Response>> outbox_;
  std::vector<std::uint32_t> roomStack_;
  int depth_ = 0;
  std::uint32_t room_ = 0;
  std::uint64_t runs_ = 0;
  std::int64_t runStartNs_ = 0;
  std::size_t commitFailures_ = 0;
  int readBatch_ = 0;
  bool outputHeld_ = false;
  bool flushPosted_ = false;
  bool flushing_ = false;
  bool logFlushPosted_ = false;
  // Held log lines go out at most once per kLogGapNs (see flushLogs).
  boost::asio::steady_timer logTimer_;
  bool logTimerArmed_ = false;
  std::int64_t lastLogWriteNs_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partyd::party
