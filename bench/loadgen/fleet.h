// Fleet opens many client WebSockets spread over the Loops (connection i lives on loop
// loopOf(i)), at most `concurrency` handshakes in flight, and waits for each one's "hi" (the bench
// party sends it in onConnect). It records connect → "hi" latency, and afterwards hands every
// frame to the workload's callbacks. A failure anywhere is kept, so that no workload can report
// numbers from a run that lost connections. reopen() replaces a connection with a fresh one to the
// same path (W7 churn); the old one is freed later, once its socket is closed.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "histogram.h"
#include "loops.h"
#include "target.h"
#include "ws_conn.h"

namespace partyd::bench {

class Fleet : public WsHandler {
 public:
  struct Options {
    size_t count = 0;
    std::function<std::string(size_t)> path;  // URL path of connection i
    std::function<int(size_t)> loop_of;       // which loop connection i lives on (default i % n)
    size_t read_buffer = 16384;
    int concurrency = 256;  // handshakes in flight, over all loops
    // waves: open `concurrency` connections at once and the next ones only when all of those
    // are ready (W2 bursts), instead of keeping `concurrency` in flight.
    bool waves = false;
  };
  using MessageFn = std::function<void(WsConn&, Opcode, std::string_view, Clock::time_point)>;
  using DrainedFn = std::function<void(WsConn&)>;
  using ReadyFn = std::function<void(WsConn&, Clock::time_point)>;
  // FailureFn gets whether the connection failed before its "hi" (handshake refused, reset).
  using FailureFn = std::function<void(WsConn&, bool before_hi, std::string_view error)>;

  Fleet(Loops& loops, const Target& target, Options options);
  ~Fleet();

  // start begins opening connections; waitReady() then waits for all of them (or a failure, or
  // `timeout_s` without one more connection settling).
  void start();
  bool waitReady(double timeout_s);

  size_t size() const { return conns_.size(); }
  WsConn& conn(size_t i) { return *conns_[i]; }
  size_t ready() const { return ready_.load(); }
  size_t failed() const { return failed_.load(); }
  std::string firstError() const;
  // connectLatency merges the connect → "hi" latencies of all loops (read it after waitReady).
  Histogram connectLatency() const;

  // reopen closes nothing: it sets connection i aside (the workload has closed it, or it failed)
  // and opens a new one in its place, outside the concurrency limit. Call it on i's loop.
  void reopen(size_t i);

  // Set these before start(); they run on the connection's loop. on_ready runs on the "hi",
  // on_message and on_drained only after it; on_failure (if set) runs after the failure counted.
  MessageFn on_message;
  DrainedFn on_drained;
  ReadyFn on_ready;
  FailureFn on_failure;

  void onOpen(WsConn& conn) override {}
  void onMessage(WsConn& conn, Opcode opcode, std::string_view payload,
                 Clock::time_point now) override;
  void onDrained(WsConn& conn) override;
  void onFailure(WsConn& conn, std::string_view error) override;

 private:
  struct PerLoop {
    std::vector<size_t> pending;  // connection indices still to open, in reverse order
    int in_flight = 0;
    Histogram connect_latency;
    // Connections replaced by reopen(), freed once closed and a second old: their aborted
    // handlers must have run first.
    std::deque<std::pair<Clock::time_point, std::unique_ptr<WsConn>>> retired;
  };
  enum Greeting : uint8_t { kWaiting, kGreeted, kDead };
  void openNext(int loop);
  // settled runs when connection i (on `loop`) is ready or failed before its "hi".
  void settled(int loop);
  // current is false for a connection that reopen() has replaced: its late events are dropped.
  bool current(const WsConn& conn) const { return conns_[conn.index].get() == &conn; }
  void freeRetired(PerLoop& state, Clock::time_point now);
  int per_loop_concurrency_ = 1;

  Loops& loops_;
  const Target& target_;
  Options options_;
  std::vector<std::unique_ptr<WsConn>> conns_;
  std::vector<uint8_t> greeted_;  // touched only by the connection's own loop
  std::vector<PerLoop> per_loop_;
  std::atomic<size_t> ready_{0};
  std::atomic<size_t> failed_{0};
  mutable std::mutex error_mutex_;
  std::string first_error_;
};

}  // namespace partyd::bench
