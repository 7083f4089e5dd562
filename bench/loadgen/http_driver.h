// HttpDriver runs --connections keep-alive HTTP connections over the Loops, each in a closed
// loop: request, wait for the answer, request again. `next(conn, j)` gives the path of the j-th
// request on a connection, or "" when that connection is done; stop() ends every loop early.
// An answer other than "200 ok", or a connection the server drops, is an error: it is counted,
// the connection is replaced and the same request is tried again. More than `max_errors` errors
// fail the run (`partykit dev` drops connections when many rooms start at once, and that must
// show as a number, not as a crash of the benchmark).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "histogram.h"
#include "http_conn.h"
#include "loops.h"
#include "target.h"

namespace partyd::bench {

class HttpDriver : public HttpHandler {
 public:
  using NextFn = std::function<std::string(size_t conn, uint64_t request)>;

  HttpDriver(Loops& loops, const Target& target, size_t connections, int64_t max_errors,
             NextFn next);
  ~HttpDriver();

  void start();
  void stop() { stopping_.store(true); }
  // wait waits until every connection is done; false on too many errors or a stall.
  bool wait(double stall_s);

  uint64_t responses() const;
  uint64_t errors() const { return errors_.load(); }
  std::string firstError() const;
  Histogram latency() const;

  void onConnected(HttpConn& conn) override;
  void onResponse(HttpConn& conn, int status, std::string_view body,
                  Clock::time_point now) override;
  void onFailure(HttpConn& conn, std::string_view error) override;

 private:
  struct alignas(64) PerLoop {
    Histogram latency;
    std::atomic<uint64_t> responses{0};
  };
  int loopOf(size_t conn) const { return static_cast<int>(conn % per_loop_.size()); }
  void open(size_t conn, uint64_t done);
  void sendNext(HttpConn& conn);
  void finish();
  void noteError(size_t conn, std::string_view error);

  Loops& loops_;
  const Target& target_;
  const int64_t max_errors_;
  NextFn next_;
  std::vector<std::unique_ptr<HttpConn>> conns_;
  std::vector<std::vector<std::unique_ptr<HttpConn>>> retired_;  // per loop: replaced conns
  std::vector<PerLoop> per_loop_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> too_many_errors_{false};
  std::atomic<size_t> finished_{0};
  std::atomic<uint64_t> errors_{0};
  mutable std::mutex error_mutex_;
  std::string first_error_;
};

}  // namespace partyd::bench
