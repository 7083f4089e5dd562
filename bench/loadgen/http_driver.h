// HttpDriver runs --connections keep-alive HTTP connections over the Loops, each in a closed
// loop: request, wait for the answer, request again. `next(conn, j)` gives the path of the j-th
// request on a connection, or "" when that connection is done; stop() ends every loop early.
// Every answer must be "200 ok", otherwise the run fails.
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

  HttpDriver(Loops& loops, const Target& target, size_t connections, NextFn next);
  ~HttpDriver();

  void start();
  void stop() { stopping_.store(true); }
  // wait waits until every connection is done (or failed); false on timeout.
  bool wait(double timeout_s);

  uint64_t responses() const;
  size_t failed() const { return failed_.load(); }
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
  void sendNext(HttpConn& conn);
  void finish();

  Loops& loops_;
  const Target& target_;
  NextFn next_;
  std::vector<std::unique_ptr<HttpConn>> conns_;
  std::vector<PerLoop> per_loop_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> finished_{0};
  std::atomic<size_t> failed_{0};
  mutable std::mutex error_mutex_;
  std::string first_error_;
};

}  // namespace partyd::bench
